"""Fuzz the Socket.IO decoder, binary attachments included.

Each input starts as a valid packet (any type, namespace, ack id, JSON arguments with bytes
anywhere), encoded into its text packet and attachments, and is then damaged the ways a
broken or hostile peer would: text cut or spliced, attachment counts and placeholders
rewritten, attachments dropped, doubled, reordered or replaced by text. The oracle: the
decoder raises only ``ProtocolError`` (and is then ready for a new packet), and every
packet it does return survives ``encode`` and decodes to itself again — so whatever the
server accepts, it can also send.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from baatcheet.errors import ProtocolError
from baatcheet.proto.socketio import Decoder, Packet, PacketType, encode
from support.fuzzing import RUNS, budget, damaged_socketio_messages, near_valid_ints


def _decodes_to_itself(packet: Packet) -> None:
    """``encode(packet)`` fed to a fresh decoder gives ``packet`` back."""
    parts = encode(packet)
    decoder = Decoder(max_attachments=max(len(parts) - 1, 1))
    for part in parts[:-1]:
        assert decoder.feed(part) is None
    assert decoder.feed(parts[-1]) == packet


@budget()
@given(damaged_socketio_messages(), st.integers(min_value=1, max_value=12))
def test_the_decoder_returns_packets_it_can_encode_or_raises_protocol_error(
    messages: list[str | bytes], max_attachments: int
) -> None:
    RUNS["socketio.Decoder"] += 1
    decoder = Decoder(max_attachments=max_attachments)
    for message in messages:
        try:
            packet = decoder.feed(message)
        except ProtocolError:
            assert not decoder.awaiting_attachments
            continue
        if packet is not None:
            assert not decoder.awaiting_attachments
            _decodes_to_itself(packet)


@budget(0.5)
@given(near_valid_ints)
def test_ack_ids_at_the_javascript_limit_decode_or_raise_protocol_error(ack_id: int) -> None:
    RUNS["socketio.Decoder ack ids"] += 1
    try:
        packet = Decoder().feed(f'2{ack_id}["ev"]')
    except ProtocolError:
        assert not 0 <= ack_id <= 2**53 - 1
        return
    assert packet == Packet(PacketType.EVENT, "/", ["ev"], ack_id)
