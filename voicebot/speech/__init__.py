"""Speech in and out: TTS, ASR, VAD, DTMF detection and text intents per locale."""
