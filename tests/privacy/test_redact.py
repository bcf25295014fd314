"""Transcript redaction: cards, Chinese IDs, bank accounts and emails, written or spoken."""

from __future__ import annotations

from datetime import date

import pytest

from voicebot.privacy.redaction import Kind, RedactionResult, cn_id_check_char, redact

TODAY = date(2026, 11, 22)


def _luhn_complete(partial: str) -> str:
    """Append the Luhn check digit (independent of the module: try all ten)."""
    for check in "0123456789":
        number = partial + check
        total = 0
        for i, ch in enumerate(number[::-1]):
            d = int(ch) * (2 if i % 2 else 1)
            total += d // 10 + d % 10
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def _fabricated_id(region: str, born: str, sequence: str) -> str:
    """A checksum-valid resident ID for nobody: ISO 7064 MOD 11-2 computed from its definition
    (the check char makes sum(a_i * 2^(17-i)) + check ≡ 1 mod 11)."""
    first17 = region + born + sequence
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(first17))
    check = (12 - total % 11) % 11
    return first17 + ("X" if check == 10 else str(check))


UNIONPAY = _luhn_complete("622200000000000000")  # 19 digits
CN_ID = _fabricated_id("110101", "19900307", "123")


def _r(text: str, locale: str = "en-US") -> RedactionResult:
    return redact(text, locale, today=TODAY)


def _kinds(result: RedactionResult) -> list[Kind]:
    return [f.kind for f in result.findings]


def test_fixtures_are_what_they_claim() -> None:
    assert len(UNIONPAY) == 19 and UNIONPAY.startswith("62")
    assert cn_id_check_char(CN_ID[:17]) == CN_ID[17]
    assert len(CN_ID) == 18


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5555 5555 5555 4444",
        "3782 822463 10005",  # Amex test number, 15 digits in 4-6-5 groups
        "6222 0000 0000 0000 " + UNIONPAY[16:],
        UNIONPAY,
        "４１１１１１１１１１１１１１１１",  # full-width digits
    ],
)
def test_valid_cards_are_redacted(number: str) -> None:
    result = _r(f"card: {number}, thanks")
    assert result.text == "card: [CARD], thanks"
    (finding,) = result.findings
    assert finding.kind is Kind.CARD and not finding.spoken
    assert f"card: {number}, thanks"[finding.start : finding.end] == number


@pytest.mark.parametrize(
    "number", ["4111 1111 1111 1112", "1234 5678 9012 3456", "1234567890123456"]
)
def test_non_luhn_numbers_stay(number: str) -> None:
    text = f"order {number} shipped"
    assert _r(text).text == text
    assert not _r(text).redacted


def test_chinese_resident_id() -> None:
    text = f"身份证号码{CN_ID}，请核对"
    result = _r(text, "zh-CN")
    assert result.text == "身份证号码[CN_ID]，请核对"
    assert _kinds(result) == [Kind.CN_ID]
    grouped = f"ID {CN_ID[:6]} {CN_ID[6:14]} {CN_ID[14:]} ok"
    assert _r(grouped).text == "ID [CN_ID] ok"


def test_chinese_id_with_x_check_character() -> None:
    with_x = next(
        i
        for i in (_fabricated_id("440305", "19851201", f"{s:03d}") for s in range(1000))
        if i.endswith("X")
    )
    assert _r(f"id {with_x}.").text == "id [CN_ID]."
    assert _r(f"id {with_x[:-1]}x.").text == "id [CN_ID]."


def test_invalid_ids_stay() -> None:
    wrong_check = CN_ID[:17] + str((int(CN_ID[17]) + 1) % 10 if CN_ID[17] != "X" else 0)
    bad_date = _fabricated_id("110101", "19901332", "123")
    future = _fabricated_id("110101", "20300101", "123")
    bad_region = _fabricated_id("990101", "19900307", "123")
    for number in (wrong_check, bad_date, future, bad_region):
        text = f"ref {number} end"
        assert [f.kind for f in _r(text).findings if f.kind is Kind.CN_ID] == [], number


def test_emails() -> None:
    text = "Write to li.na+bills@example.com.cn or ops@mail.example.org."
    result = _r(text)
    assert result.text == "Write to [EMAIL] or [EMAIL]."
    assert _kinds(result) == [Kind.EMAIL, Kind.EMAIL]
    assert _r("not an email: a@b, @home, x@y.z").text == "not an email: a@b, @home, x@y.z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my email is john dot smith at example dot com thanks", "my email is [EMAIL] thanks"),
        ("j.smith at mail.example.co.uk please", "[EMAIL] please"),
        ("邮箱是 zhangsan 艾特 qq 点 com 谢谢", "邮箱是 [EMAIL] 谢谢"),
        ("邮箱123456789艾特qq点com，收到", "邮箱[EMAIL]，收到"),
    ],
)
def test_spoken_emails(text: str, expected: str) -> None:
    result = _r(text, "zh-CN")
    assert result.text == expected
    assert [(f.kind, f.spoken) for f in result.findings] == [(Kind.EMAIL, True)]


def test_at_and_dot_in_ordinary_speech_stay() -> None:
    for text in ("call me at home tonight", "meet at the office dot", "at 3 dot 5 percent"):
        assert _r(text).text == text


def test_email_with_digits_is_one_finding() -> None:
    result = _r("mail 4111111111111111@example.com now")
    assert result.text == "mail [EMAIL] now"
    assert _kinds(result) == [Kind.EMAIL]


@pytest.mark.parametrize(
    "spoken",
    [
        "六二二二 零零零零 零零零零 零零零零 零零" + "零一二三四五六七八九"[int(UNIONPAY[-1])],
        "六二二二零零零零零零零零零零零零零零" + "零幺二三四五六七八九"[int(UNIONPAY[-1])],
        "六二二二，零零零零，零零零零，零零零零，零零" + "〇一两三四五六七八九"[int(UNIONPAY[-1])],
    ],
)
def test_spoken_chinese_card(spoken: str) -> None:
    result = _r(f"我的卡是{spoken}，谢谢", "zh-CN")
    assert result.text == "我的卡是[CARD]，谢谢"
    assert result.findings[0].spoken


def test_spoken_english_card() -> None:
    spoken = "four one one one one one one one one one one one one one one one"
    result = _r(f"Sure, it's {spoken}. Thank you.")
    assert result.text == "Sure, it's [CARD]. Thank you."
    assert result.findings[0].spoken
    doubled = (
        "Five five five five, double five five five, five five five five, four four double four"
    )
    assert _r(f"Number {doubled} okay").text == "Number [CARD] okay"
    amex = "three seven eight two eight two two four six three one oh oh oh five"
    assert _r(f"it is {amex}").text == "it is [CARD]"


def test_unicode_look_alikes_of_digit_words_are_text_not_a_crash() -> None:
    # Case-insensitive matching folds a dotless "ı" into "i", "ſ" into "s", the Kelvin sign
    # into "k": "sıx" matched the pattern for "six" but is no digit word (found in random bytes
    # of a vault file the demo scans).
    for text in ("sıx", "ſeven", "double ſix", "ſix", "\u212aeep it"):
        assert _r(f"call {text} please").text == f"call {text} please"
    doubled = (
        "Five five five five, DOUBLE FIVE five five, five five five five, four four double four"
    )
    assert _r(doubled).text == "[CARD]"


def test_spoken_english_card_inside_longer_speech() -> None:
    text = "I have one card, it's four one one one one one one one one one one one one one one one"
    assert _r(text).text == "I have one card, it's [CARD]"
    glued = "the one four one one one one one one one one one one one one one one one"
    result = _r(glued)
    assert result.text == "the one [CARD]"


def test_spoken_chinese_id() -> None:
    words = "零一二三四五六七八九"
    spoken = "".join(words[int(c)] if c != "X" else "叉" for c in CN_ID)
    assert _r(f"身份证是{spoken}", "zh-CN").text == "身份证是[CN_ID]"


def test_mixed_written_and_spoken_digits() -> None:
    text = "卡号是6222 0000 零零零零 0000 " + UNIONPAY[16:] + " 好的"
    assert _r(text, "zh-CN").text == "卡号是[CARD] 好的"


def test_account_after_a_keyword() -> None:
    text = "请转到账号：6217 0000 1234 5678 901，户名张三"
    result = _r(text, "zh-CN")
    assert result.text == "请转到账号：[BANK_ACCOUNT]，户名张三"
    assert _kinds(result) == [Kind.BANK_ACCOUNT]
    spoken = "my account number is one two three four five six seven eight nine oh, thanks"
    assert _r(spoken).text == "my account number is [BANK_ACCOUNT], thanks"
    card_after_keyword = _r("card number 4111 1111 1111 1111")
    assert _kinds(card_after_keyword) == [Kind.CARD]


def test_keyword_does_not_reach_across_sentences_or_into_short_numbers() -> None:
    for text in (
        "账号已冻结。订单 12345678901234",
        "账号 1234567 已冻结",
        "account number. 12345678",
    ):
        assert _r(text, "zh-CN").text == text


def test_phone_numbers_are_not_redacted_here() -> None:
    luhn_phone = _luhn_complete("861380013800")  # 13 digits, as long as a card, Luhn-valid
    assert len(luhn_phone) == 13
    for text in (
        f"call +{luhn_phone[:2]} {luhn_phone[2:5]} {luhn_phone[5:9]} {luhn_phone[9:]} now",
        f"电话 {luhn_phone[:2]} {luhn_phone[2:5]} {luhn_phone[5:9]} {luhn_phone[9:]}",
        f"电话 00{luhn_phone}",
        "call +44 20 7946 0958 or +1 202 555 0123",
        "回拨 13800138000",
        "call +86 138 0013 8000 tomorrow",
        "call +1 202 555 0123",
        "卡号 13800138000",
        "一三八零零一三八零零零",
    ):
        assert _r(text, "zh-CN").text == text


def test_mixed_text_keeps_everything_else_intact() -> None:
    text = (
        f"您好，您的订单 1234 5678 9012 3456 金额 ¥1,234.56 已于 2026-11-22 发货。"
        f"卡 4111 1111 1111 1111，身份证 {CN_ID}，邮箱 zhang.san@example.cn。"
        "请拨打 13800138000 联系我们，谢谢！"
    )
    result = _r(text, "zh-CN")
    assert result.text == (
        "您好，您的订单 1234 5678 9012 3456 金额 ¥1,234.56 已于 2026-11-22 发货。"
        "卡 [CARD]，身份证 [CN_ID]，邮箱 [EMAIL]。"
        "请拨打 13800138000 联系我们，谢谢！"
    )
    assert _kinds(result) == [Kind.CARD, Kind.CN_ID, Kind.EMAIL]
    spans = [text[f.start : f.end] for f in result.findings]
    assert spans == ["4111 1111 1111 1111", CN_ID, "zhang.san@example.cn"]


def test_findings_never_carry_the_value() -> None:
    result = _r(f"card 4111 1111 1111 1111 id {CN_ID}")
    for finding in result.findings:
        assert "4111" not in repr(finding) and CN_ID not in repr(finding)
    assert "4111" not in repr(result) and CN_ID not in repr(result)


def test_words_containing_digit_words_are_not_digits() -> None:
    text = "someone gave tone and money to the oneness"
    assert _r(text).text == text
    assert _r("nothing to redact").findings == ()


def test_locale_is_checked() -> None:
    with pytest.raises(ValueError, match="not a locale tag"):
        redact("x", "chinese please")
    assert redact("4111 1111 1111 1111", "fr-FR").text == "[CARD]"
