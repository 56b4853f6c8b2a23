"""The .aec file: the container (header, streams, CRC) and the payload (stream order, content check)."""
