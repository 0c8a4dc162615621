"""The engine's sub-blocks (the whole structure: :mod:`zoforge.gen.engine`).

Each block builds its registers and wiring into the engine's one module when constructed, and its
states of the engine's command FSM when its ``states()`` is called inside that FSM; the engine's
EXEC state calls a block's ``begin()`` for the commands the block executes. The blocks are not
components: one flat module keeps the simulator fast, and a block's signals are plain attributes
that the others read. Every docstring states what the block drives and what it expects.

Members: :class:`Serializer`, :class:`CommandDecoder`, :class:`WeightPort`, :class:`PassPipeline`,
:class:`MacPath`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.memory import Memory

from ..golden import engine_protocol as P
from ..golden.engine_protocol import Code, Op

__all__ = ["Serializer", "CommandDecoder", "WeightPort", "PassPipeline", "MacPath"]

ARG_BYTES = 8           # longest argument block (SEED, FORWARD)


class Serializer:
    """The response serializer: a register of ``nbytes`` bytes that shifts one byte out per transfer
    on ``rsp`` and accepts the next piece when its last byte leaves.

    ``free`` is high when a piece loaded in this cycle overwrites no unsent byte (the register is
    empty, or its last byte leaves now); ``send(value, n)`` loads a piece of ``n`` bytes (least
    significant first) and may only be called under ``m.If(free)``, at most once per cycle.
    ``empty`` is high when no byte is left to send.
    """

    def __init__(self, m, rsp, nbytes: int):
        self.m, self.nbytes = m, nbytes
        buf, left = Signal(8 * nbytes, name="tx_buf"), Signal(range(nbytes + 1), name="tx_left")
        self._load, self._val = Signal(name="tx_load"), Signal(8 * nbytes, name="tx_val")
        self._n = Signal(range(nbytes + 1), name="tx_n")
        self.free = (left == 0) | ((left == 1) & rsp.ready)
        self.empty = left == 0
        m.d.comb += [rsp.valid.eq(left != 0), rsp.payload.eq(buf[:8])]
        with m.If(self._load):
            m.d.sync += [buf.eq(self._val), left.eq(self._n)]
        with m.Elif(rsp.valid & rsp.ready):
            m.d.sync += [buf.eq(buf >> 8), left.eq(left - 1)]

    def send(self, value, nbytes):
        self.m.d.comb += [self._load.eq(1), self._val.eq(value), self._n.eq(nbytes)]


class CommandDecoder:
    """Opcode and argument bytes from ``cmd``; the result code, the status byte and the counters.

    States ``OP`` (waits for an opcode; ``idle`` high while the serializer is empty) and ``ARGS``
    (the opcode's ``P.arg_bytes`` argument bytes) end in ``EXEC``, with ``op`` holding the opcode
    and ``arg(o, name)`` reading field ``name`` of opcode ``o``'s argument layout (signed fields
    sign-extended). ``take()`` makes ``cmd`` ready in the current state (data bytes of LOAD and
    FORWARD); ``byte`` is the byte offered and ``got`` high when it transfers.

    Abandoning (the watchdog): ``waiting`` is high in a state that takes a byte of an unfinished
    command (ARGS, LOAD and FORWARD data) while the serializer is empty; ``abort`` then ends the
    command with the TIMEOUT code in ``RESPOND`` (no byte is taken in that cycle). ``cmd_left`` is the
    number of bytes the source still holds for this command stream (all ones: unknown).

    ``code`` is the current command's result (EXEC sets OK before the checks); ``status(next)``
    sends the status byte (``code`` and ``flag``, the saturation flag) once the serializer is free,
    counts an error, and goes to ``next``. ``n_cmd`` counts opcodes, ``n_err`` error statuses;
    ``clear()`` zeroes both.
    """

    def __init__(self, m, spec, cmd, idle, tx: Serializer, flag, waiting, abort, cmd_left):
        self.m, self.spec, self.cmd, self.idle, self.tx, self.flag = m, spec, cmd, idle, tx, flag
        self.waiting, self.abort, self.cmd_left = waiting, abort, cmd_left
        self.byte = cmd.payload
        self.got = cmd.valid & cmd.ready
        self.op, self.args = Signal(8, name="op"), Signal(8 * ARG_BYTES, name="args")
        self.argi = Signal(range(ARG_BYTES), name="argi")
        self.code = Signal(4, name="code")
        self.n_cmd, self.n_err = Signal(32, name="n_cmd"), Signal(32, name="n_err")

    def arg(self, o, name):
        at = 0
        for field, n, is_signed in P.arg_fields(self.spec, o):
            if field == name:
                v = self.args[8 * at:8 * (at + n)]
                return v.as_signed() if is_signed else v
            at += n
        raise KeyError(name)

    def _nargs_of(self, value):
        m, out = self.m, Signal(range(ARG_BYTES + 1), name="nargs")
        with m.Switch(value):
            for o in Op:
                if P.arg_bytes(self.spec, o):
                    with m.Case(o):
                        m.d.comb += out.eq(P.arg_bytes(self.spec, o))
        return out

    def take(self):
        """Take the bytes of the current command here; honour ``abort``."""
        m = self.m
        m.d.comb += [self.cmd.ready.eq(~self.abort), self.waiting.eq(self.tx.empty)]
        with m.If(self.abort):
            m.d.sync += self.code.eq(Code.TIMEOUT)
            m.next = "RESPOND"

    def set_code(self, ok, fail=Code.BAD_ARGUMENT):
        """Sync: the result is OK when ``ok``, else ``fail``."""
        self.m.d.sync += self.code.eq(Mux(ok, Code.OK, fail))

    def clear(self):
        self.m.d.sync += [self.n_cmd.eq(0), self.n_err.eq(0)]

    def status(self, next_state):
        m, tx = self.m, self.tx
        with m.If(tx.free):
            tx.send(Cat(self.code, Const(0, 3), self.flag), 1)
            with m.If(self.code != Code.OK):
                m.d.sync += self.n_err.eq(self.n_err + 1)
            m.next = next_state

    def states(self):
        m, byte, got = self.m, self.byte, self.got
        with m.State("OP"):
            m.d.comb += [self.cmd.ready.eq(1), self.idle.eq(self.tx.empty)]
            with m.If(got):
                m.d.sync += [self.op.eq(byte), self.argi.eq(0), self.n_cmd.eq(self.n_cmd + 1)]
                with m.If(self._nargs_of(byte) == 0):
                    m.next = "EXEC"
                with m.Else():
                    m.next = "ARGS"
        with m.State("ARGS"):
            self.take()
            with m.If(got):
                m.d.sync += [self.args.word_select(self.argi, 8).eq(byte), self.argi.eq(self.argi + 1)]
                with m.If(self.argi == self._nargs_of(self.op) - 1):
                    m.next = "EXEC"


class WeightPort:
    """The weight memory (``words`` words of ``lanes`` weights): its write port, its read stage, and
    the LOAD and READ commands.

    Read stage: the memory's registered read port plus a valid bit, reading address ``r_addr`` when
    its word is taken (or the stage is empty), so any consumer can stall it. ``start_reader(addr,
    count, kw)`` (sync) queues ``count`` words from ``addr``; ``data`` is the current word, ``valid``
    high while there is one, ``last`` high on each ``kw``-th word (a matrix row's last chunk); a
    consumer takes the word by driving ``ready``. ``chunk`` (the word's chunk index within its row)
    and ``advance`` (the stage moves this cycle) let another memory be read in step.

    ``write(addr, value)`` (comb) writes a word, at most once per cycle. ``waddr``/``wleft`` are the
    address and the words left of the current transfer (LOAD, READ, a pass).

    ``begin()`` (EXEC, LOAD or READ) checks the range (and that all of a LOAD's data is at hand,
    ``dec.cmd_left``, so an abandoned LOAD writes nothing) and goes to ``LOAD_DATA`` (bytes assembled
    into words, each written unless the code is an error, then ``RESPOND``) or ``READ_ST`` (status,
    then every word through the serializer in ``READ_DATA``, then ``OP``).
    """

    def __init__(self, m, spec, dec: CommandDecoder, tx: Serializer):
        self.m, self.spec, self.dec, self.tx = m, spec, dec, tx
        L, words = spec.lanes, spec.words
        m.submodules.wmem = wmem = Memory(shape=data.ArrayLayout(signed(spec.w_bits), L), depth=words, init=[])
        self._wr, rd = wmem.write_port(), wmem.read_port()
        self.data = rd.data

        r_addr, r_left = Signal(range(words + 1), name="r_addr"), Signal(32, name="r_left")
        r_c, r_kw = Signal(range(spec.kw_max + 1), name="r_c"), Signal(range(spec.kw_max + 1), name="r_kw")
        self.valid, self.last = Signal(name="st_valid"), Signal(name="st_last")
        self.ready = Signal(name="r_ready")
        self.chunk = r_c
        self.advance = ~self.valid | self.ready
        self._reader = (r_addr, r_left, r_c, r_kw)
        m.d.comb += [rd.addr.eq(r_addr), rd.en.eq(self.advance)]
        with m.If(self.advance):
            m.d.sync += [self.valid.eq(r_left != 0), self.last.eq(r_c == r_kw - 1)]
            with m.If(r_left != 0):
                m.d.sync += [r_addr.eq(r_addr + 1), r_left.eq(r_left - 1),
                             r_c.eq(Mux(r_c == r_kw - 1, 0, r_c + 1))]

        self.waddr, self.wleft = Signal(range(words + 1), name="waddr"), Signal(range(words + 1), name="wleft")
        self.word_bytes = L * spec.w_bytes
        self._rx_word = Signal(8 * self.word_bytes, name="rx_word")
        self._b_i = Signal(range(max(self.word_bytes, 2)), name="b_i")

    def start_reader(self, addr, count, kw):
        r_addr, r_left, r_c, r_kw = self._reader
        self.m.d.sync += [r_addr.eq(addr), r_left.eq(count), r_c.eq(0), r_kw.eq(kw)]

    def write(self, addr, value, en=1):
        self.m.d.comb += [self._wr.addr.eq(addr), self._wr.data.eq(value), self._wr.en.eq(en)]

    def begin(self):
        m, dec = self.m, self.dec
        addr, count = dec.arg(Op.LOAD, "addr"), dec.arg(Op.LOAD, "count")     # READ: same layout
        ok = (count != 0) & (addr + count <= self.spec.words)
        at_hand = (count << (self.word_bytes.bit_length() - 1)) <= dec.cmd_left    # word_bytes: a power of two
        dec.set_code(ok & ((dec.op == Op.READ) | at_hand))
        m.d.sync += [self.waddr.eq(addr), self.wleft.eq(count), self._b_i.eq(0)]
        with m.If(dec.op == Op.READ):
            with m.If(ok):
                self.start_reader(addr, count, 1)
                m.next = "READ_ST"
            with m.Else():
                m.next = "RESPOND"
        with m.Elif(count == 0):
            m.next = "RESPOND"
        with m.Else():
            m.next = "LOAD_DATA"

    def states(self):
        m, dec, tx = self.m, self.dec, self.tx
        rx_word, b_i, n = self._rx_word, self._b_i, self.word_bytes
        rx_next = Cat(rx_word[8:], dec.byte) if n > 1 else dec.byte
        with m.State("LOAD_DATA"):
            dec.take()
            with m.If(dec.got):
                m.d.sync += rx_word.eq(rx_next)
                with m.If(b_i == n - 1):
                    self.write(self.waddr, rx_next, dec.code == Code.OK)
                    m.d.sync += [b_i.eq(0), self.waddr.eq(self.waddr + 1), self.wleft.eq(self.wleft - 1)]
                    with m.If(self.wleft == 1):
                        m.next = "RESPOND"
                with m.Else():
                    m.d.sync += b_i.eq(b_i + 1)

        with m.State("READ_ST"):
            dec.status("READ_DATA")
        with m.State("READ_DATA"):
            with m.If(tx.free & self.valid):
                m.d.comb += self.ready.eq(1)
                tx.send(self.data, n)
                m.d.sync += self.wleft.eq(self.wleft - 1)
                with m.If(self.wleft == 1):
                    m.next = "OP"


class PassPipeline:
    """PERTURB and UPDATE: the read stage feeds the perturbation or the update unit with z from the
    RNG, and each result is written back to its address.

    ``begin()`` (EXEC) checks ``s`` and ``count``, latches ``s`` and ``c`` and starts the reader at
    word 0, then goes to ``RESTART`` (``RESPOND`` on a bad argument). ``RESTART`` restarts the RNG, so
    every pass of a step sees the same z; ``PASS`` streams words 0..count-1 through the unit the
    opcode selects and writes each result back. Reads run ahead of writes, so a word is never read
    after being written in the same pass. Ends in ``RESPOND``. ``clear()`` zeroes both units'
    saturation counters.
    """

    def __init__(self, m, spec, dec: CommandDecoder, wp: WeightPort, rng, pu, uu):
        self.m, self.spec, self.dec, self.wp, self.rng, self.pu, self.uu = m, spec, dec, wp, rng, pu, uu
        self.is_perturb = dec.op == Op.PERTURB
        self._s, self._c = Signal(signed(2), name="s_reg"), Signal(signed(spec.c_bits), name="c_reg")
        self._active = Signal(name="in_pass")
        m.d.comb += [pu.s.eq(self._s), uu.c.eq(self._c), uu.decay_en.eq(1),
                     pu.w_out.ready.eq(1), uu.w_out.ready.eq(1)]
        for unit, active in ((pu, self._active & self.is_perturb), (uu, self._active & ~self.is_perturb)):
            m.d.comb += [unit.w_in.payload.eq(wp.data), unit.w_in.valid.eq(wp.valid & active),
                         unit.z.payload.eq(rng.o.payload), unit.z.valid.eq(rng.o.valid & active)]
        m.d.comb += rng.o.ready.eq(self._active & Mux(self.is_perturb, pu.z.ready, uu.z.ready))

    def clear(self):
        self.m.d.comb += [self.pu.clear.eq(1), self.uu.clear.eq(1)]

    def begin(self):
        m, dec, wp = self.m, self.dec, self.wp
        op, s, c = dec.op, dec.arg(Op.PERTURB, "s"), dec.arg(Op.UPDATE, "c")
        count = Mux(op == Op.PERTURB, dec.arg(Op.PERTURB, "count"), dec.arg(Op.UPDATE, "count"))
        s_ok = (op == Op.UPDATE) | (s == 1) | (s == -1) | (s == -2)
        ok = s_ok & (count != 0) & (count <= self.spec.words)
        dec.set_code(ok)
        m.d.sync += [self._s.eq(s[:2]), self._c.eq(c), wp.waddr.eq(0), wp.wleft.eq(count)]
        m.next = "RESPOND"
        with m.If(ok):
            wp.start_reader(0, count, 1)
            m.next = "RESTART"

    def states(self):
        m, wp, pu, uu, perturb = self.m, self.wp, self.pu, self.uu, self.is_perturb
        with m.State("RESTART"):
            m.d.comb += self.rng.restart.eq(1)
            m.next = "PASS"
        with m.State("PASS"):
            m.d.comb += [self._active.eq(1), wp.ready.eq(Mux(perturb, pu.w_in.ready, uu.w_in.ready))]
            with m.If(Mux(perturb, pu.w_out.valid, uu.w_out.valid)):
                wp.write(wp.waddr, Mux(perturb, pu.w_out.payload.w, uu.w_out.payload.w))
                m.d.sync += [wp.waddr.eq(wp.waddr + 1), wp.wleft.eq(wp.wleft - 1)]
                with m.If(wp.wleft == 1):
                    m.next = "RESPOND"


class MacPath:
    """FORWARD: up to ``batch`` input vectors in the activation buffer, multiplied by a weight
    matrix streamed once through the MAC array.

    ``begin()`` (EXEC) latches ``kw = ceil(cols/lanes)`` and goes to ``FWD_MUL``, which computes
    ``rows*kw`` by shift-and-add and checks the arguments; ``FWD_ST`` sends the status. ``FWD_ACT``
    receives a group of ``min(n, batch)`` vectors (one buffer row per chunk of ``lanes`` elements,
    one slot per vector, zero padded; discarded after an error status). ``FWD_RUN`` streams the
    matrix: each beat multiplies one weight word (the MAC's broadcast operand) by that chunk of every
    vector (its per-row operand), and each row's sums leave through the serializer as they complete.
    Then the next group, or ``OP`` after the last.
    """

    def __init__(self, m, spec, dec: CommandDecoder, wp: WeightPort, tx: Serializer, mac):
        self.m, self.spec, self.dec, self.wp, self.tx, self.mac = m, spec, dec, wp, tx, mac
        L, B = spec.lanes, spec.batch
        self.chunk_layout = data.ArrayLayout(signed(spec.a_bits), L)
        m.submodules.abuf = abuf = Memory(shape=data.ArrayLayout(self.chunk_layout, B), depth=spec.kw_max, init=[])
        self._awr, self._ard = abuf.write_port(granularity=1), abuf.read_port()
        m.d.comb += [self._ard.addr.eq(wp.chunk), self._ard.en.eq(wp.advance)]

        self.kw = Signal(range(spec.kw_max + 1), name="kw")
        self.mul_a, self.mul_b, self.prod = Signal(32, name="mul_a"), Signal(16, name="mul_b"), Signal(32, name="prod")
        self.v_left, self.nvalid = Signal(16, name="v_left"), Signal(range(B + 1), name="nvalid")
        self.r_vec = Signal(range(B + 1), name="r_vec")
        self.k, self.lane = Signal(16, name="k"), Signal(range(L), name="lane")
        self.ch = Signal(range(spec.kw_max + 1), name="ch")
        self.lo = Signal(8, name="lo")
        self.a_hi = Signal(name="a_hi")          # 16-bit activations: the low byte is in ``lo``
        self.chunk = Signal(self.chunk_layout, name="chunk")
        self.out_m = Signal(16, name="out_m")
        if spec.acc_bytes & (spec.acc_bytes - 1):
            # Bytes of a group's sums from a table: Yosys would spend a DSP on nvalid * 6.
            self.sum_bytes = Array(Const(i * spec.acc_bytes, range(tx.nbytes + 1))
                                   for i in range(B + 1))[self.nvalid]
        else:
            self.sum_bytes = self.nvalid * spec.acc_bytes

    def _start_group(self):
        B = self.spec.batch
        self.m.d.sync += [self.r_vec.eq(0), self.nvalid.eq(Mux(self.v_left > B, B, self.v_left)), self.k.eq(0),
                          self.lane.eq(0), self.ch.eq(0), self.a_hi.eq(0), self.chunk.eq(0), self.out_m.eq(0)]

    def begin(self):
        m, dec, L = self.m, self.dec, self.spec.lanes
        lanes_log = L.bit_length() - 1
        cols = dec.arg(Op.FORWARD, "cols")
        m.d.sync += [self.kw.eq((cols + (L - 1)) >> lanes_log), self.mul_a.eq((cols + (L - 1)) >> lanes_log),
                     self.mul_b.eq(dec.arg(Op.FORWARD, "rows")), self.prod.eq(0),
                     self.v_left.eq(dec.arg(Op.FORWARD, "n"))]
        m.next = "FWD_MUL"

    def states(self):
        m, spec, dec, wp, tx, mac = self.m, self.spec, self.dec, self.wp, self.tx, self.mac
        L, B = spec.lanes, spec.batch
        arg = dec.arg
        mul_a, mul_b, prod = self.mul_a, self.mul_b, self.prod
        v_left, nvalid, r_vec = self.v_left, self.nvalid, self.r_vec
        k, lane, ch, chunk = self.k, self.lane, self.ch, self.chunk
        fwd_ok = dec.code == Code.OK

        with m.State("FWD_MUL"):
            with m.If(mul_b != 0):
                m.d.sync += [prod.eq(prod + Mux(mul_b[0], mul_a, 0)), mul_a.eq(mul_a << 1), mul_b.eq(mul_b >> 1)]
            with m.Else():
                rows, cols, n = arg(Op.FORWARD, "rows"), arg(Op.FORWARD, "cols"), arg(Op.FORWARD, "n")
                ok = (rows != 0) & (n != 0) & (cols != 0) & (cols <= spec.max_cols) & \
                    (arg(Op.FORWARD, "base") + prod <= spec.words)
                dec.set_code(ok)
                m.next = "FWD_ST"
        with m.State("FWD_ST"):
            self._start_group()
            no_data = (arg(Op.FORWARD, "n") == 0) | (arg(Op.FORWARD, "cols") == 0)
            dec.status("FWD_ACT")
            with m.If(tx.free & no_data):
                m.next = "OP"

        with m.State("FWD_ACT"):
            dec.take()
            if spec.a_bytes == 1:
                elem, elem_done = dec.byte, dec.got
            else:
                elem, elem_done = Cat(self.lo, dec.byte), dec.got & self.a_hi
                with m.If(dec.got):
                    m.d.sync += [self.lo.eq(dec.byte), self.a_hi.eq(~self.a_hi)]
            cols = arg(Op.FORWARD, "cols")
            filled = Signal(self.chunk_layout)
            for j in range(L):
                m.d.comb += filled[j].eq(Mux(lane == j, elem, chunk[j]))
            chunk_end = (lane == L - 1) | (k == cols - 1)
            vec_end = k == cols - 1
            with m.If(elem_done):
                with m.If(chunk_end):
                    m.d.comb += [self._awr.addr.eq(ch), self._awr.data.eq(Cat(*([filled.as_value()] * B))),
                                 self._awr.en.eq(Mux(fwd_ok, Const(1, 1) << r_vec, 0))]
                    m.d.sync += [chunk.eq(0), lane.eq(0), ch.eq(ch + 1)]
                with m.Else():
                    m.d.sync += [chunk.eq(filled), lane.eq(lane + 1)]
                m.d.sync += k.eq(k + 1)
                with m.If(vec_end):
                    m.d.sync += [k.eq(0), ch.eq(0), r_vec.eq(r_vec + 1), v_left.eq(v_left - 1)]
                    with m.If(r_vec == nvalid - 1):
                        with m.If(fwd_ok):
                            wp.start_reader(arg(Op.FORWARD, "base"), prod, self.kw)
                            m.d.sync += [self.out_m.eq(0), r_vec.eq(0)]
                            m.next = "FWD_RUN"
                        with m.Elif(v_left == 1):
                            m.next = "OP"
                        with m.Else():
                            m.d.sync += [r_vec.eq(0), nvalid.eq(Mux(v_left - 1 > B, B, v_left - 1))]

        with m.State("FWD_RUN"):
            m.d.comb += [mac.bcast.payload.v.eq(wp.data), mac.bcast.payload.last.eq(wp.last),
                         mac.bcast.valid.eq(wp.valid), mac.row.payload.eq(self._ard.data), mac.row.valid.eq(wp.valid),
                         wp.ready.eq(mac.bcast.ready), mac.o.ready.eq(tx.free)]
            with m.If(mac.o.valid & tx.free):
                tx.send(mac.o.payload, self.sum_bytes)
                m.d.sync += self.out_m.eq(self.out_m + 1)
                with m.If(self.out_m == arg(Op.FORWARD, "rows") - 1):
                    with m.If(v_left == 0):
                        m.next = "OP"
                    with m.Else():
                        self._start_group()
                        m.next = "FWD_ACT"
