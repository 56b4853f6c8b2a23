"""Codecs: one module per registered codec (load, export, encode, decode behind ``aecodec.contract``)."""
