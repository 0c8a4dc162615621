"""The board link gateware: SLIP/CRC-16 frames from the UART in, engine commands out, framed
responses back (wire format and golden model: :mod:`zoforge.golden.link`; for input that arrives
one frame at a time it sends exactly :class:`~zoforge.golden.link.LinkModel`'s bytes).

Structure:

    rx --> SLIP decode --> command memory (cmd_bytes) --+--> cmd (body: bytes 1 .. len-3)
            CRC check, seq, CRC tail                    |
    rsp --> response memory (rsp_bytes), response CRC --+--> SLIP encode --> tx

* ``rx.ready`` is always high: the UART receiver is never stalled. Frames are decoded while the
  link is idle; an intact frame is a hello, a retry (the kept response is sent again), new (it
  starts execution) or refused, by the rule of :mod:`zoforge.golden.link`; hellos and refused frames
  are answered with the notice (its CRC computed as it is sent, by a third CRC unit, so the kept
  response and its CRC stay for retries).
* While the link is busy (executing or sending), the command memory holds the body being executed,
  so incoming bytes are not stored: any non-END byte marks the frame in progress as damaged, and
  it is dropped at its closing END. A frame whose opening END arrives while busy but whose other
  bytes arrive after is received normally. The host sends a frame only after the previous answer
  (or its time-out), so this only drops frames the host will resend anyway; :class:`LinkModel`
  consumes input one frame at a time and has no such case.
* The body is streamed into the engine through the command memory's read port plus a valid bit.
  Response bytes are captured (those past ``rsp_bytes`` discarded) with their CRC until
  ``engine_idle`` after the body's last byte was taken; then the frame is sent: END, seq, response,
  CRC (big-endian), each byte SLIP-escaped, END. The response memory and CRC stay for retries.
* The watchdog: while the body's bytes are all taken (``WAIT``) and the engine waits for a byte of
  an unfinished command (``engine_waiting``), a counter runs; after ``watchdog`` cycles it pulses
  ``engine_abort`` (the engine answers TIMEOUT and returns to idle) and restarts the response
  capture, so the frame's answer is that status byte alone. ``cmd_left`` tells the engine how many
  body bytes are still to come (a LOAD that would run past the body writes nothing).

Members: :class:`Link`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.crc.catalog import CRC16_IBM_3740
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.link import CRC_BYTES, END, ESC, ESC_END, ESC_ESC, MIN_FRAME, NOTICE, NOTICE_BYTES, LinkSpec

__all__ = ["Link"]


class Link(wiring.Component):
    """The link of a :class:`~zoforge.golden.link.LinkSpec` (its ``divisor`` is the UARTs' business).

    Members
    -------
    rx : In(stream.Signature(8))
        Wire bytes from the UART receiver; always ready.
    tx : Out(stream.Signature(8))
        Wire bytes to the UART transmitter.
    cmd : Out(stream.Signature(8))
        Command bytes to the engine.
    rsp : In(stream.Signature(8))
        Response bytes from the engine; always ready.
    engine_idle : In(1)
        The engine's ``idle``.
    busy : Out(1)
        Executing a frame or sending a response.
    executed, dropped, refused, abandoned : Out(1)
        One-cycle pulses: a frame started executing (retries do not count); a frame was dropped; a
        frame was answered with the notice; the watchdog abandoned a command.
    engine_waiting : In(1)
        The engine's ``waiting``.
    engine_abort : Out(1)
        To the engine's ``abort``.
    cmd_left : Out(range(cmd_bytes + 1))
        Body bytes not yet taken by the engine.
    """

    def __init__(self, spec: LinkSpec):
        self.spec = spec
        super().__init__({
            "rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)),
            "cmd": Out(stream.Signature(8)), "rsp": In(stream.Signature(8)), "engine_idle": In(1),
            "busy": Out(1), "executed": Out(1), "dropped": Out(1), "refused": Out(1), "abandoned": Out(1),
            "engine_waiting": In(1), "engine_abort": Out(1), "cmd_left": Out(range(spec.cmd_bytes + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.submodules.cmem = cmem = Memory(shape=8, depth=spec.cmd_bytes, init=[])
        m.submodules.rmem = rmem = Memory(shape=8, depth=spec.rsp_bytes, init=[])
        c_wr, c_rd = cmem.write_port(), cmem.read_port()
        r_wr, r_rd = rmem.write_port(), rmem.read_port()
        m.submodules.rx_crc = rx_crc = CRC16_IBM_3740(data_width=8).create()
        m.submodules.tx_crc = tx_crc = CRC16_IBM_3740(data_width=8).create()
        m.submodules.note_crc = note_crc = CRC16_IBM_3740(data_width=8).create()

        busy = Signal()
        m.d.comb += self.busy.eq(busy)

        # ---- SLIP decoding into the command memory ----
        count = Signal(range(spec.cmd_bytes + 1))    # bytes stored of the frame in progress
        esc, bad = Signal(), Signal()
        seq, tail = Signal(8), Signal(16)            # its first byte, its last two (the CRC at the end)
        byte, got = self.rx.payload, self.rx.valid
        store, value = Signal(), Signal(8)
        at_end = got & (byte == END)
        m.d.comb += self.rx.ready.eq(1)

        with m.If(at_end):
            m.d.comb += rx_crc.start.eq(1)
            m.d.sync += [count.eq(0), esc.eq(0), bad.eq(0)]
        with m.Elif(got & busy):
            m.d.sync += bad.eq(1)                    # the memory is in use: this frame is lost
        with m.Elif(got & esc):
            m.d.sync += esc.eq(0)
            with m.If(byte == ESC_END):
                m.d.comb += [store.eq(1), value.eq(END)]
            with m.Elif(byte == ESC_ESC):
                m.d.comb += [store.eq(1), value.eq(ESC)]
            with m.Else():
                m.d.sync += bad.eq(1)
        with m.Elif(got & (byte == ESC)):
            m.d.sync += esc.eq(1)
        with m.Elif(got):
            m.d.comb += [store.eq(1), value.eq(byte)]

        with m.If(store):
            with m.If(count == spec.cmd_bytes):
                m.d.sync += bad.eq(1)                # too long
            with m.Elif(~bad):
                m.d.comb += [c_wr.addr.eq(count), c_wr.data.eq(value), c_wr.en.eq(1),
                             rx_crc.data.eq(value), rx_crc.valid.eq(1)]
                m.d.sync += [count.eq(count + 1), tail.eq(Cat(value, tail[:8]))]
                with m.If(count == 0):
                    m.d.sync += seq.eq(value)

        nonempty = (count != 0) | bad | esc
        good = at_end & ~busy & ~bad & ~esc & (count >= MIN_FRAME) & rx_crc.match_detected
        m.d.sync += [self.dropped.eq(at_end & nonempty & ~good), self.executed.eq(0), self.refused.eq(0),
                     self.abandoned.eq(0)]

        # ---- the last executed frame: its key, its response and the response's CRC ----
        have_last, last_seq, last_crc = Signal(), Signal(8), Signal(16)
        rlen = Signal(range(spec.rsp_bytes + 1))
        m.d.comb += self.rsp.ready.eq(1)
        with m.If(self.rsp.valid & (rlen != spec.rsp_bytes)):
            m.d.comb += [r_wr.addr.eq(rlen), r_wr.data.eq(self.rsp.payload), r_wr.en.eq(1),
                         tx_crc.data.eq(self.rsp.payload), tx_crc.valid.eq(1)]
            m.d.sync += rlen.eq(rlen + 1)
        hello = count == MIN_FRAME
        retry = ~hello & have_last & (seq == last_seq) & (tail == last_crc)
        new = ~hello & (~have_last | (seq == (last_seq + 1)[:8]))

        # ---- body reader: command memory read port + a valid bit ----
        r_addr, r_end = Signal(range(spec.cmd_bytes)), Signal(range(spec.cmd_bytes))
        st_valid = Signal()
        more = r_addr <= r_end
        m.d.comb += [self.cmd.valid.eq(st_valid), self.cmd.payload.eq(c_rd.data), c_rd.addr.eq(r_addr)]

        # ---- frame sender: idx 0 = seq, 1 .. rlen = response, then the CRC's two bytes; or the notice ----
        idx = Signal(range(spec.rsp_bytes + 3))
        raw, note = Signal(8), Signal()
        notice = [seq, NOTICE, last_seq, spec.cmd_bytes.bit_length() - 1, spec.rsp_bytes.bit_length() - 1]
        with m.If(note):
            with m.Switch(idx):
                for i, value in enumerate(notice):
                    with m.Case(i):
                        m.d.comb += raw.eq(value)
                with m.Case(NOTICE_BYTES + 1):
                    m.d.comb += raw.eq(note_crc.crc[8:])
                with m.Default():
                    m.d.comb += raw.eq(note_crc.crc[:8])
        with m.Elif(idx == 0):
            m.d.comb += raw.eq(last_seq)
        with m.Elif(idx <= rlen):
            m.d.comb += raw.eq(r_rd.data)
        with m.Elif(idx == rlen + 1):
            m.d.comb += raw.eq(tx_crc.crc[8:])
        with m.Else():
            m.d.comb += raw.eq(tx_crc.crc[:8])
        special = (raw == END) | (raw == ESC)
        m.d.comb += r_rd.en.eq(0)                    # hold the byte while its escape is sent

        def step():
            """The byte at ``idx`` has left: fetch the next one (response byte idx is at address idx)."""
            m.d.comb += [r_rd.addr.eq(idx), r_rd.en.eq(1)]
            m.d.sync += idx.eq(idx + 1)
            with m.If(note & (idx <= NOTICE_BYTES)):       # the notice's CRC, byte by byte as they leave
                m.d.comb += [note_crc.start.eq(idx == 0), note_crc.data.eq(raw), note_crc.valid.eq(1)]
            with m.If(idx == Mux(note, NOTICE_BYTES + 2, rlen + 2)):
                m.next = "CLOSE"
            with m.Else():
                m.next = "BYTE"

        # ---- the watchdog: the engine waits for a byte the body does not have ----
        wd = Signal(range(spec.watchdog))
        starving = self.engine_waiting & ~self.cmd.valid
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += self.cmd_left.eq(self.cmd_left - 1)

        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += wd.eq(0)
                with m.If(good & retry):
                    m.d.sync += note.eq(0)
                    m.next = "OPEN"
                with m.Elif(good & new):
                    m.d.comb += [tx_crc.start.eq(1), tx_crc.data.eq(seq), tx_crc.valid.eq(1)]
                    m.d.sync += [have_last.eq(1), last_seq.eq(seq), last_crc.eq(tail), rlen.eq(0), note.eq(0),
                                 r_addr.eq(1), r_end.eq(count - CRC_BYTES - 1), self.cmd_left.eq(count - MIN_FRAME),
                                 self.executed.eq(1)]
                    m.next = "EXEC"
                with m.Elif(good):
                    m.d.sync += [note.eq(1), self.refused.eq(1)]
                    m.next = "OPEN"

            with m.State("EXEC"):
                m.d.comb += busy.eq(1)
                advance = ~st_valid | self.cmd.ready
                m.d.comb += c_rd.en.eq(advance)
                with m.If(advance):
                    m.d.sync += [st_valid.eq(more), r_addr.eq(r_addr + 1)]
                    with m.If(st_valid & ~more):     # the body's last byte is taken now
                        m.next = "WAIT"

            with m.State("WAIT"):
                m.d.comb += busy.eq(1)
                m.d.sync += wd.eq(Mux(starving, wd + 1, 0))
                with m.If(starving & (wd == spec.watchdog - 1)):
                    # Abandon: the engine answers TIMEOUT; that byte alone is the frame's answer.
                    m.d.comb += [self.engine_abort.eq(1), tx_crc.start.eq(1), tx_crc.data.eq(last_seq),
                                 tx_crc.valid.eq(1)]
                    m.d.sync += [rlen.eq(0), wd.eq(0), self.abandoned.eq(1)]
                with m.Elif(self.engine_idle):
                    m.next = "OPEN"

            with m.State("OPEN"):
                m.d.comb += [busy.eq(1), self.tx.valid.eq(1), self.tx.payload.eq(END)]
                m.d.sync += idx.eq(0)
                with m.If(self.tx.ready):
                    m.next = "BYTE"

            with m.State("BYTE"):
                m.d.comb += [busy.eq(1), self.tx.valid.eq(1), self.tx.payload.eq(Mux(special, ESC, raw))]
                with m.If(self.tx.ready):
                    with m.If(special):
                        m.next = "ESCAPED"
                    with m.Else():
                        step()

            with m.State("ESCAPED"):
                m.d.comb += [busy.eq(1), self.tx.valid.eq(1),
                             self.tx.payload.eq(Mux(raw == END, ESC_END, ESC_ESC))]
                with m.If(self.tx.ready):
                    step()

            with m.State("CLOSE"):
                m.d.comb += [busy.eq(1), self.tx.valid.eq(1), self.tx.payload.eq(END)]
                with m.If(self.tx.ready):
                    m.next = "IDLE"
        return m
