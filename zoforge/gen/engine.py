"""The engine gateware: one byte command stream in, one response stream out (protocol and
semantics: :mod:`zoforge.golden.engine_protocol`; the golden executor defines every byte).

Structure (one level of submodules, for simulation speed):

    cmd --> decoder FSM --+--> weight memory <-- write: LOAD bytes | unit outputs
                          |        | read stage (one word per cycle, back-pressure aware)
                          |        +--> perturb unit --+
             RngUnit z ---+-------------> update unit --+--> write back (PERTURB, UPDATE)
                          |        +--> MAC array <-- activation buffer (FORWARD)
                          |        +--> serializer (READ)
    rsp <-- serializer <--+-- status, INFO, STATUS, READ words, MAC sums

* The read stage is the weight memory's registered read port plus a valid bit: it reads address
  ``r_addr`` when its word is taken (or the stage is empty), so any consumer can stall it.
* PERTURB/UPDATE restart the RNG, stream words 0..count-1 through the unit with z, and write each
  result back to its address; reads run ahead of writes, so a word is never read after being written
  in the same pass.
* FORWARD receives up to ``batch`` vectors into the activation buffer (one row per element chunk,
  one slot per vector, zero padded), then streams the weight region once: every beat multiplies one
  weight word by the chunk of every vector (the MAC array's rows). Sums leave as they complete.
* Every response starts through a serializer of ``tx_bytes`` bytes: a register that shifts out one
  byte per transfer and accepts the next piece when its last byte leaves.
* ``idle`` is high when the decoder waits for an opcode and the serializer is empty: once the last
  byte of a command has been taken, the command's response is complete at the first later cycle
  with ``idle`` high (how the board link knows where a response ends without parsing it).

Members: :class:`Engine`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden import engine_protocol as P
from ..golden.engine_protocol import Code, Op
from .engine_rng import RngUnit
from .mac import Mac
from .perturb import Perturb
from .update import Update

__all__ = ["Engine"]

_ARG_BYTES = 8          # longest argument block (SEED, FORWARD)


class Engine(wiring.Component):
    """The engine of an :class:`~zoforge.golden.engine.EngineSpec`.

    Members
    -------
    cmd : In(stream.Signature(8))
        Command bytes; stalls (ready low) while a command executes.
    rsp : Out(stream.Signature(8))
        Response bytes, equal to :class:`~zoforge.golden.engine_model.EngineModel`'s for the same
        commands whatever the gaps on either stream.
    idle : Out(1)
        The decoder is waiting for an opcode and no response byte is left to send.
    tx_bytes : int
        Width of the response serializer in bytes (the largest piece sent at once).
    """

    def __init__(self, spec):
        self.spec = spec
        super().__init__({"cmd": In(stream.Signature(8)), "rsp": Out(stream.Signature(8)), "idle": Out(1)})

    @property
    def tx_bytes(self) -> int:
        s = self.spec
        return max(8, s.lanes * s.w_bytes, s.batch * s.acc_bytes)

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        L, B, words = spec.lanes, spec.batch, spec.words
        lanes_log = L.bit_length() - 1

        m.submodules.rng = rng = RngUnit(spec)
        m.submodules.perturb = pu = Perturb(spec.perturb)
        m.submodules.update = uu = Update(spec.update)
        m.submodules.mac = mac = Mac(spec.mac)
        m.submodules.wmem = wmem = Memory(shape=data.ArrayLayout(signed(spec.w_bits), L), depth=words, init=[])
        wr, rd = wmem.write_port(), wmem.read_port()
        chunk_layout = data.ArrayLayout(signed(spec.a_bits), L)
        m.submodules.abuf = abuf = Memory(shape=data.ArrayLayout(chunk_layout, B), depth=spec.kw_max, init=[])
        awr, ard = abuf.write_port(granularity=1), abuf.read_port()

        # ---- response serializer ----
        W = self.tx_bytes
        tx_buf, tx_left = Signal(8 * W), Signal(range(W + 1))
        tx_load, tx_val, tx_n = Signal(), Signal(8 * W), Signal(range(W + 1))
        tx_free = (tx_left == 0) | ((tx_left == 1) & self.rsp.ready)
        m.d.comb += [self.rsp.valid.eq(tx_left != 0), self.rsp.payload.eq(tx_buf[:8])]
        with m.If(tx_load):
            m.d.sync += [tx_buf.eq(tx_val), tx_left.eq(tx_n)]
        with m.Elif(self.rsp.valid & self.rsp.ready):
            m.d.sync += [tx_buf.eq(tx_buf >> 8), tx_left.eq(tx_left - 1)]

        def send(value, nbytes):
            """Comb: load a piece into the serializer (only inside ``m.If(tx_free)``)."""
            m.d.comb += [tx_load.eq(1), tx_val.eq(value), tx_n.eq(nbytes)]

        # ---- counters and status ----
        n_cmd, n_err = Signal(32), Signal(32)
        code = Signal(4)
        flag = (pu.sat_count != 0) | (uu.sat_count != 0)

        def emit_status(next_state):
            with m.If(tx_free):
                send(Cat(code, Const(0, 3), flag), 1)
                with m.If(code != Code.OK):
                    m.d.sync += n_err.eq(n_err + 1)
                m.next = next_state

        # ---- command bytes and arguments ----
        byte = self.cmd.payload
        got = self.cmd.valid & self.cmd.ready
        op = Signal(8)
        args = Signal(8 * _ARG_BYTES)
        argi = Signal(range(_ARG_BYTES))

        def nargs_of(value):
            out = Signal(range(_ARG_BYTES + 1), name="nargs")
            with m.Switch(value):
                for o in Op:
                    if P.arg_bytes(spec, o):
                        with m.Case(o):
                            m.d.comb += out.eq(P.arg_bytes(spec, o))
            return out

        def arg(o, name):
            at = 0
            for field, n, is_signed in P.arg_fields(spec, o):
                if field == name:
                    v = args[8 * at:8 * (at + n)]
                    return v.as_signed() if is_signed else v
                at += n
            raise KeyError(name)

        # ---- weight read stage ----
        r_addr, r_left = Signal(range(words + 1)), Signal(32)
        r_c, r_kw = Signal(range(spec.kw_max + 1)), Signal(range(spec.kw_max + 1))
        st_valid, st_last = Signal(), Signal()
        r_ready = Signal()
        advance = ~st_valid | r_ready
        m.d.comb += [rd.addr.eq(r_addr), rd.en.eq(advance), ard.addr.eq(r_c), ard.en.eq(advance)]
        with m.If(advance):
            m.d.sync += [st_valid.eq(r_left != 0), st_last.eq(r_c == r_kw - 1)]
            with m.If(r_left != 0):
                m.d.sync += [r_addr.eq(r_addr + 1), r_left.eq(r_left - 1),
                             r_c.eq(Mux(r_c == r_kw - 1, 0, r_c + 1))]

        def start_reader(addr, count, kw):
            m.d.sync += [r_addr.eq(addr), r_left.eq(count), r_c.eq(0), r_kw.eq(kw)]

        # ---- pass datapath (PERTURB, UPDATE) ----
        is_perturb = op == Op.PERTURB
        s_reg, c_reg = Signal(signed(2)), Signal(signed(spec.c_bits))
        waddr, wleft = Signal(range(words + 1)), Signal(range(words + 1))
        in_pass = Signal()
        m.d.comb += [pu.s.eq(s_reg), uu.c.eq(c_reg), uu.decay_en.eq(1),
                     pu.w_out.ready.eq(1), uu.w_out.ready.eq(1)]
        for unit, active in ((pu, in_pass & is_perturb), (uu, in_pass & ~is_perturb)):
            m.d.comb += [unit.w_in.payload.eq(rd.data), unit.w_in.valid.eq(st_valid & active),
                         unit.z.payload.eq(rng.o.payload), unit.z.valid.eq(rng.o.valid & active)]
        m.d.comb += rng.o.ready.eq(in_pass & Mux(is_perturb, pu.z.ready, uu.z.ready))
        out = Mux(is_perturb, pu.w_out.payload.w, uu.w_out.payload.w)
        out_valid = Mux(is_perturb, pu.w_out.valid, uu.w_out.valid)

        # ---- LOAD bytes ----
        word_bytes = L * spec.w_bytes
        rx_word = Signal(8 * word_bytes)
        rx_next = Cat(rx_word[8:], byte) if word_bytes > 1 else byte
        b_i = Signal(range(max(word_bytes, 2)))

        # ---- FORWARD state ----
        kw = Signal(range(spec.kw_max + 1))
        mul_a, mul_b, prod = Signal(32), Signal(16), Signal(32)
        v_left, nvalid, r_vec = Signal(16), Signal(range(B + 1)), Signal(range(B + 1))
        k, lane, ch = Signal(16), Signal(range(L)), Signal(range(spec.kw_max + 1))
        lo = Signal(8)
        a_hi = Signal()                         # 16-bit activations: the low byte is in ``lo``
        chunk = Signal(chunk_layout)
        out_m = Signal(16)
        fwd_ok = code == Code.OK

        if spec.acc_bytes & (spec.acc_bytes - 1):
            # Bytes of a group's sums from a table: Yosys would spend a DSP on nvalid * 6.
            sum_bytes = Array(Const(i * spec.acc_bytes, range(W + 1)) for i in range(B + 1))[nvalid]
        else:
            sum_bytes = nvalid * spec.acc_bytes

        def start_group():
            m.d.sync += [r_vec.eq(0), nvalid.eq(Mux(v_left > B, B, v_left)), k.eq(0), lane.eq(0), ch.eq(0),
                         a_hi.eq(0), chunk.eq(0), out_m.eq(0)]

        # START/SCALE hand-over: valid straight from a flip-flop (the chain's scale stage uses it to
        # select its multiplier input, a long path already), payload from the argument register.
        row_go, scale_go = Signal(), Signal()
        if spec.pool:
            m.d.comb += [rng.row.payload.eq(arg(Op.START, "row")), rng.row.valid.eq(row_go)]
        if spec.norm:
            m.d.comb += [rng.scale.payload.eq(arg(Op.SCALE, "q")), rng.scale.valid.eq(scale_go)]

        with m.FSM():
            with m.State("OP"):
                m.d.comb += [self.cmd.ready.eq(1), self.idle.eq(tx_left == 0)]
                with m.If(got):
                    m.d.sync += [op.eq(byte), argi.eq(0), n_cmd.eq(n_cmd + 1)]
                    with m.If(nargs_of(byte) == 0):
                        m.next = "EXEC"
                    with m.Else():
                        m.next = "ARGS"

            with m.State("ARGS"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(got):
                    m.d.sync += [args.word_select(argi, 8).eq(byte), argi.eq(argi + 1)]
                    with m.If(argi == nargs_of(op) - 1):
                        m.next = "EXEC"

            with m.State("EXEC"):
                m.d.sync += code.eq(Code.OK)
                with m.Switch(op):
                    with m.Case(Op.PING):
                        m.next = "RESPOND"
                    with m.Case(Op.INFO):
                        m.next = "INFO_0"
                    with m.Case(Op.STATUS):
                        m.next = "STATUS_0"
                    with m.Case(Op.CLEAR):
                        m.d.comb += [pu.clear.eq(1), uu.clear.eq(1)]
                        m.d.sync += [n_cmd.eq(0), n_err.eq(0)]
                        m.next = "RESPOND"
                    with m.Case(Op.LOAD, Op.READ):
                        addr, count = arg(Op.LOAD, "addr"), arg(Op.LOAD, "count")     # READ: same layout
                        ok = (count != 0) & (addr + count <= words)
                        m.d.sync += [code.eq(Mux(ok, Code.OK, Code.BAD_ARGUMENT)), waddr.eq(addr),
                                     wleft.eq(count), b_i.eq(0)]
                        with m.If(op == Op.READ):
                            with m.If(ok):
                                start_reader(addr, count, 1)
                                m.next = "READ_ST"
                            with m.Else():
                                m.next = "RESPOND"
                        with m.Elif(count == 0):
                            m.next = "RESPOND"
                        with m.Else():
                            m.next = "LOAD_DATA"
                    with m.Case(Op.SEED):
                        value = arg(Op.SEED, "seed")
                        ok = (value != 0) & ((value >> spec.seed_lfsr.width) == 0)
                        m.d.sync += code.eq(Mux(ok, Code.OK, Code.BAD_ARGUMENT))
                        m.next = "RESPOND"
                        with m.If(ok):
                            m.next = "SEED_GO"
                    # START and SCALE only decide here; RNG_SET hands the value over from registers,
                    # so the range check and the chain's scale multiplier are not one combinational path.
                    with m.Case(Op.START):
                        if spec.pool:
                            ok = arg(Op.START, "row") < spec.pool_rows
                            m.d.sync += [code.eq(Mux(ok, Code.OK, Code.BAD_ARGUMENT)), row_go.eq(ok)]
                        else:
                            m.d.sync += code.eq(Code.UNSUPPORTED)
                        m.next = "RNG_SET"
                    with m.Case(Op.SCALE):
                        if spec.norm:
                            q = arg(Op.SCALE, "q")
                            ok = (q != 0) & ((q >> (spec.rng_spec.sfrac + 1)) == 0)
                            m.d.sync += [code.eq(Mux(ok, Code.OK, Code.BAD_ARGUMENT)), scale_go.eq(ok)]
                        else:
                            m.d.sync += code.eq(Code.UNSUPPORTED)
                        m.next = "RNG_SET"
                    with m.Case(Op.PERTURB, Op.UPDATE):
                        s, c = arg(Op.PERTURB, "s"), arg(Op.UPDATE, "c")
                        count = Mux(op == Op.PERTURB, arg(Op.PERTURB, "count"), arg(Op.UPDATE, "count"))
                        s_ok = (op == Op.UPDATE) | (s == 1) | (s == -1) | (s == -2)
                        ok = s_ok & (count != 0) & (count <= words)
                        m.d.sync += [code.eq(Mux(ok, Code.OK, Code.BAD_ARGUMENT)), s_reg.eq(s[:2]), c_reg.eq(c),
                                     waddr.eq(0), wleft.eq(count)]
                        m.next = "RESPOND"
                        with m.If(ok):
                            start_reader(0, count, 1)
                            m.next = "RESTART"
                    with m.Case(Op.FORWARD):
                        cols = arg(Op.FORWARD, "cols")
                        m.d.sync += [kw.eq((cols + (L - 1)) >> lanes_log), mul_a.eq((cols + (L - 1)) >> lanes_log),
                                     mul_b.eq(arg(Op.FORWARD, "rows")), prod.eq(0),
                                     v_left.eq(arg(Op.FORWARD, "n"))]
                        m.next = "FWD_MUL"
                    with m.Default():
                        m.d.sync += code.eq(Code.UNKNOWN_OPCODE)
                        m.next = "RESPOND"

            with m.State("RESPOND"):
                emit_status("OP")

            with m.State("RNG_SET"):
                m.d.sync += [row_go.eq(0), scale_go.eq(0)]
                m.next = "RESPOND"

            # -- INFO and STATUS: the status byte, then fixed pieces of at most W bytes --
            info = P.info_payload(spec)
            info_pieces = [info[i:i + W] for i in range(0, len(info), W)]
            stat_pieces = [n_cmd, n_err, pu.sat_count, uu.sat_count]
            for name, pieces in (("INFO", info_pieces), ("STATUS", stat_pieces)):
                with m.State(f"{name}_0"):
                    emit_status(f"{name}_1")
                for i, piece in enumerate(pieces):
                    with m.State(f"{name}_{i + 1}"):
                        with m.If(tx_free):
                            if isinstance(piece, bytes):
                                send(int.from_bytes(piece, "little"), len(piece))
                            else:
                                send(piece, 4)
                            m.next = f"{name}_{i + 2}" if i + 1 < len(pieces) else "OP"

            # -- LOAD: assemble words from bytes, write each (or discard on a bad argument) --
            with m.State("LOAD_DATA"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(got):
                    m.d.sync += rx_word.eq(rx_next)
                    with m.If(b_i == word_bytes - 1):
                        m.d.comb += [wr.addr.eq(waddr), wr.data.eq(rx_next), wr.en.eq(code == Code.OK)]
                        m.d.sync += [b_i.eq(0), waddr.eq(waddr + 1), wleft.eq(wleft - 1)]
                        with m.If(wleft == 1):
                            m.next = "RESPOND"
                    with m.Else():
                        m.d.sync += b_i.eq(b_i + 1)

            # -- READ: status, then every word through the serializer --
            with m.State("READ_ST"):
                emit_status("READ_DATA")
            with m.State("READ_DATA"):
                with m.If(tx_free & st_valid):
                    m.d.comb += r_ready.eq(1)
                    send(rd.data, word_bytes)
                    m.d.sync += wleft.eq(wleft - 1)
                    with m.If(wleft == 1):
                        m.next = "OP"

            # -- SEED: derive the vector and load it into the chain --
            with m.State("SEED_GO"):
                m.d.comb += [rng.seed.payload.eq(arg(Op.SEED, "seed")), rng.seed.valid.eq(1)]
                with m.If(rng.seed.ready):
                    m.next = "SEED_WAIT"
            with m.State("SEED_WAIT"):
                with m.If(~rng.busy):
                    m.next = "RESPOND"

            # -- PERTURB / UPDATE pass --
            with m.State("RESTART"):
                m.d.comb += rng.restart.eq(1)
                m.next = "PASS"
            with m.State("PASS"):
                m.d.comb += [in_pass.eq(1), r_ready.eq(Mux(is_perturb, pu.w_in.ready, uu.w_in.ready))]
                with m.If(out_valid):
                    m.d.comb += [wr.addr.eq(waddr), wr.data.eq(out), wr.en.eq(1)]
                    m.d.sync += [waddr.eq(waddr + 1), wleft.eq(wleft - 1)]
                    with m.If(wleft == 1):
                        m.next = "RESPOND"

            # -- FORWARD: check (rows*kw by shift-and-add), status, then groups of vectors --
            with m.State("FWD_MUL"):
                with m.If(mul_b != 0):
                    m.d.sync += [prod.eq(prod + Mux(mul_b[0], mul_a, 0)), mul_a.eq(mul_a << 1), mul_b.eq(mul_b >> 1)]
                with m.Else():
                    rows, cols, n = arg(Op.FORWARD, "rows"), arg(Op.FORWARD, "cols"), arg(Op.FORWARD, "n")
                    ok = (rows != 0) & (n != 0) & (cols != 0) & (cols <= spec.max_cols) & \
                        (arg(Op.FORWARD, "base") + prod <= words)
                    m.d.sync += code.eq(Mux(ok, Code.OK, Code.BAD_ARGUMENT))
                    m.next = "FWD_ST"
            with m.State("FWD_ST"):
                start_group()
                no_data = (arg(Op.FORWARD, "n") == 0) | (arg(Op.FORWARD, "cols") == 0)
                emit_status("FWD_ACT")
                with m.If(tx_free & no_data):
                    m.next = "OP"

            with m.State("FWD_ACT"):
                m.d.comb += self.cmd.ready.eq(1)
                if spec.a_bytes == 1:
                    elem, elem_done = byte, got
                else:
                    elem, elem_done = Cat(lo, byte), got & a_hi
                    with m.If(got):
                        m.d.sync += [lo.eq(byte), a_hi.eq(~a_hi)]
                cols = arg(Op.FORWARD, "cols")
                filled = Signal(chunk_layout)
                for j in range(L):
                    m.d.comb += filled[j].eq(Mux(lane == j, elem, chunk[j]))
                chunk_end = (lane == L - 1) | (k == cols - 1)
                vec_end = k == cols - 1
                with m.If(elem_done):
                    with m.If(chunk_end):
                        m.d.comb += [awr.addr.eq(ch), awr.data.eq(Cat(*([filled.as_value()] * B))),
                                     awr.en.eq(Mux(fwd_ok, Const(1, 1) << r_vec, 0))]
                        m.d.sync += [chunk.eq(0), lane.eq(0), ch.eq(ch + 1)]
                    with m.Else():
                        m.d.sync += [chunk.eq(filled), lane.eq(lane + 1)]
                    m.d.sync += k.eq(k + 1)
                    with m.If(vec_end):
                        m.d.sync += [k.eq(0), ch.eq(0), r_vec.eq(r_vec + 1), v_left.eq(v_left - 1)]
                        with m.If(r_vec == nvalid - 1):
                            with m.If(fwd_ok):
                                start_reader(arg(Op.FORWARD, "base"), prod, kw)
                                m.d.sync += [out_m.eq(0), r_vec.eq(0)]
                                m.next = "FWD_RUN"
                            with m.Elif(v_left == 1):
                                m.next = "OP"
                            with m.Else():
                                m.d.sync += [r_vec.eq(0), nvalid.eq(Mux(v_left - 1 > B, B, v_left - 1))]

            with m.State("FWD_RUN"):
                m.d.comb += [mac.a.payload.a.eq(rd.data), mac.a.payload.last.eq(st_last), mac.a.valid.eq(st_valid),
                             mac.w.payload.eq(ard.data), mac.w.valid.eq(st_valid), r_ready.eq(mac.a.ready),
                             mac.o.ready.eq(tx_free)]
                with m.If(mac.o.valid & tx_free):
                    send(mac.o.payload, sum_bytes)
                    m.d.sync += out_m.eq(out_m + 1)
                    with m.If(out_m == arg(Op.FORWARD, "rows") - 1):
                        with m.If(v_left == 0):
                            m.next = "OP"
                        with m.Else():
                            start_group()
                            m.next = "FWD_ACT"
        return m
