"""Media plane: a selective forwarding unit that forwards RTP packets between aiortc peers.

It imports none of the layers above it; signalling drives it through the node API.
"""
