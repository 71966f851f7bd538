"""samplesort: listen to a drum-sample library, label every one-shot, file it where it belongs."""

__version__ = "0.1.0"
