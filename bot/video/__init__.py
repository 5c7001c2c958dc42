"""Video clips: reading their facts (probe) and their pictures (frames) with PyAV; imports nothing itself."""
