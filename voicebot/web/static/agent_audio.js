// The agent's voice path: the browser's microphone and speaker as one WebRTC peer of the bot.
//
// The bot (aiortc) does not trickle ICE, so the offer is sent once, with every candidate in it,
// after gathering completes. The server answers with candidates on its media address only; no
// STUN or TURN server is used, so the agent's browser must reach that address directly (the same
// machine, LAN or VPN). Levels are RMS in 0..1 from WebAudio analysers, for a meter and tests.

const GATHER_TIMEOUT_MS = 5000;

function waitForGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    // Gathering can hang on an interface that never answers: send what we have by then.
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

function rmsMeter(context, stream) {
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    return Math.sqrt(sum / samples.length);
  };
}

/**
 * Connect the agent's microphone and speaker to the bot.
 *
 * @param {string} url endpoint that takes `{sdp, type}` JSON and returns the answer the same way
 * @param {string} csrfToken the session's CSRF token (`csrf_token` of `/api/session`)
 * @param {{audioElement?: HTMLAudioElement}} [options] where to play the bot's side
 * Call it from a user gesture (the agent's click): browsers start audio playback and the
 * AudioContext of the meters only then. `closed` settles when the audio ends from either side
 * (hangUp, the bot hanging up, or the connection failing); the microphone is released then.
 *
 * @returns {Promise<{pc: RTCPeerConnection, inboundLevel: () => number,
 *   outboundLevel: () => number, hangUp: () => void, closed: Promise<void>}>}
 * @throws {Error} with the server's message when the offer is refused (e.g. HTTP 400)
 */
export async function connectAgentAudio(url, csrfToken, options = {}) {
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = new RTCPeerConnection({ iceServers: [] });
  const context = new AudioContext();
  const audio = options.audioElement || new Audio();
  audio.autoplay = true;
  let inbound = () => 0;
  let closedResolve;
  const closed = new Promise((resolve) => (closedResolve = resolve));

  function hangUp() {
    if (pc.signalingState !== "closed") pc.close();
    for (const track of mic.getTracks()) track.stop();
    audio.srcObject = null;
    context.close().catch(() => {});
    closedResolve();
  }

  pc.addEventListener("track", (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    audio.srcObject = stream;
    audio.play().catch(() => {}); // autoplay policy: the meter still works through WebAudio
    inbound = rmsMeter(context, stream);
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "failed" || pc.connectionState === "closed") hangUp();
  });

  try {
    for (const track of mic.getAudioTracks()) pc.addTrack(track, mic);
    const outbound = rmsMeter(context, mic);
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc);
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRF-Token": csrfToken,
      },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || answer.type !== "answer" || typeof answer.sdp !== "string") {
      const reason = answer.message || answer.error || `HTTP ${response.status}`;
      throw new Error(`the bot refused the audio connection: ${reason}`);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    // The bot hanging up closes DTLS at once; the connection state would only turn
    // "disconnected" seconds later (and that also happens on a passing network hiccup).
    const dtls = pc.getSenders()[0] && pc.getSenders()[0].transport;
    if (dtls) {
      dtls.addEventListener("statechange", () => {
        if (dtls.state === "closed" || dtls.state === "failed") hangUp();
      });
    }
    if (context.state === "suspended") await context.resume().catch(() => {});
    return {
      pc,
      inboundLevel: () => inbound(),
      outboundLevel: () => outbound(),
      hangUp,
      closed,
    };
  } catch (error) {
    hangUp();
    throw error;
  }
}
