"""Local transcription with faster-whisper. Heavy imports (faster_whisper, ctranslate2) happen
inside functions only, so the app reaches its unlock screen without loading them."""
