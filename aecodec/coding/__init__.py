"""Entropy coding: fixed-point layers, CDF tables, rANS and ANS coders behind one interface."""
