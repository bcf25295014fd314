"""Route handlers, one module per area; who may call them is declared in ``voicebot.web.rbac``."""
