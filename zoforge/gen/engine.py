"""The engine gateware: one byte command stream in, one response stream out (protocol and
semantics: :mod:`zoforge.golden.engine_protocol`; the golden executor defines every byte).

Structure (one flat module plus the units as submodules, for simulation speed; the named
sub-blocks and their contracts are in :mod:`zoforge.gen.engine_blocks`):

    cmd --> CommandDecoder --+--> WeightPort: memory <-- write: LOAD bytes | unit outputs
                             |        | read stage (one word per cycle, back-pressure aware)
                             |        +--> PassPipeline: perturb unit --+
                RngUnit z ---+----------------------> update unit --+--> write back (PERTURB, UPDATE)
                             |        +--> MacPath: MAC array <-- activation buffer (FORWARD)
                             |        +--> serializer (READ)
    rsp <-- Serializer <-----+-- status, INFO, STATUS, READ words, MAC sums

The engine itself wires the blocks and owns the command FSM's dispatch (EXEC) and the small
commands: PING, INFO, STATUS, CLEAR and the RNG's SEED, START and SCALE.

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

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden import engine_protocol as P
from ..golden.engine_protocol import Code, Op
from .engine_blocks import CommandDecoder, MacPath, PassPipeline, Serializer, WeightPort
from .engine_rng import RngUnit
from .mac import Mac
from .perturb import Perturb
from .update import Update

__all__ = ["Engine"]


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
    waiting : Out(1)
        A command is unfinished and the engine waits for its next byte (response sent).
    abort : In(1)
        While ``waiting`` and no byte is offered: abandon the command, answer TIMEOUT, return to idle
        (the board link's watchdog drives it).
    cmd_left : In(24)
        Bytes the source still holds (the rest of the link's frame); a LOAD runs only when all its data
        is at hand. Left undriven it reads "unknown" (all ones).
    tx_bytes : int
        Width of the response serializer in bytes (the largest piece sent at once).
    """

    def __init__(self, spec):
        self.spec = spec
        super().__init__({"cmd": In(stream.Signature(8)), "rsp": Out(stream.Signature(8)), "idle": Out(1),
                          "waiting": Out(1), "abort": In(1), "cmd_left": In(24, init=(1 << 24) - 1)})

    @property
    def tx_bytes(self) -> int:
        s = self.spec
        return max(8, s.lanes * s.w_bytes, s.batch * s.acc_bytes)

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.submodules.rng = rng = RngUnit(spec)
        m.submodules.perturb = pu = Perturb(spec.perturb)
        m.submodules.update = uu = Update(spec.update)
        m.submodules.mac = mac = Mac(spec.mac)

        tx = Serializer(m, self.rsp, self.tx_bytes)
        flag = (pu.sat_count != 0) | (uu.sat_count != 0)
        dec = CommandDecoder(m, spec, self.cmd, self.idle, tx, flag, self.waiting, self.abort, self.cmd_left)
        wp = WeightPort(m, spec, dec, tx)
        passes = PassPipeline(m, spec, dec, wp, rng, pu, uu)
        fwd = MacPath(m, spec, dec, wp, tx, mac)

        # START/SCALE hand-over: valid straight from a flip-flop (the chain's scale stage uses it to
        # select its multiplier input, a long path already), payload from the argument register.
        row_go, scale_go = Signal(), Signal()
        if spec.has_pool:
            m.d.comb += [rng.row.payload.eq(dec.arg(Op.START, "row")), rng.row.valid.eq(row_go)]
        if spec.has_scale:
            m.d.comb += [rng.scale.payload.eq(dec.arg(Op.SCALE, "q")), rng.scale.valid.eq(scale_go)]

        with m.FSM():
            dec.states()
            with m.State("EXEC"):
                self._execute(m, dec, wp, passes, fwd, row_go, scale_go)
            with m.State("RESPOND"):
                dec.status("OP")
            with m.State("RNG_SET"):
                m.d.sync += [row_go.eq(0), scale_go.eq(0)]
                m.next = "RESPOND"
            self._info_status(m, dec, tx, pu, uu)
            self._seed(m, dec, rng)
            wp.states()
            passes.states()
            fwd.states()
        return m

    def _execute(self, m, dec, wp, passes, fwd, row_go, scale_go):
        """EXEC: check the arguments, set the result code and go to the command's first state."""
        spec, arg = self.spec, dec.arg
        m.d.sync += dec.code.eq(Code.OK)
        with m.Switch(dec.op):
            with m.Case(Op.PING):
                m.next = "RESPOND"
            with m.Case(Op.INFO):
                m.next = "INFO_0"
            with m.Case(Op.STATUS):
                m.next = "STATUS_0"
            with m.Case(Op.CLEAR):
                passes.clear()
                dec.clear()
                m.next = "RESPOND"
            with m.Case(Op.LOAD, Op.READ):
                wp.begin()
            with m.Case(Op.SEED):
                value = arg(Op.SEED, "seed")
                ok = (value != 0) & ((value >> spec.seed_lfsr.width) == 0)
                dec.set_code(ok)
                m.next = "RESPOND"
                with m.If(ok):
                    m.next = "SEED_GO"
            # START and SCALE only decide here; RNG_SET hands the value over from registers,
            # so the range check and the chain's scale multiplier are not one combinational path.
            with m.Case(Op.START):
                if spec.has_pool:
                    ok = arg(Op.START, "row") < spec.pool_rows
                    dec.set_code(ok)
                    m.d.sync += row_go.eq(ok)
                else:
                    m.d.sync += dec.code.eq(Code.UNSUPPORTED)
                m.next = "RNG_SET"
            with m.Case(Op.SCALE):
                if spec.has_scale:
                    q = arg(Op.SCALE, "q")
                    ok = (q != 0) & ((q >> (spec.rng_spec.sfrac + 1)) == 0)
                    dec.set_code(ok)
                    m.d.sync += scale_go.eq(ok)
                else:
                    m.d.sync += dec.code.eq(Code.UNSUPPORTED)
                m.next = "RNG_SET"
            with m.Case(Op.PERTURB, Op.UPDATE):
                passes.begin()
            with m.Case(Op.FORWARD):
                fwd.begin()
            with m.Default():
                m.d.sync += dec.code.eq(Code.UNKNOWN_OPCODE)
                m.next = "RESPOND"

    def _info_status(self, m, dec, tx, pu, uu):
        """INFO and STATUS: the status byte, then fixed pieces of at most ``tx_bytes`` bytes."""
        W = self.tx_bytes
        info = P.info_payload(self.spec)
        info_pieces = [info[i:i + W] for i in range(0, len(info), W)]
        stat_pieces = [dec.n_cmd, dec.n_err, pu.sat_count, uu.sat_count]
        for name, pieces in (("INFO", info_pieces), ("STATUS", stat_pieces)):
            with m.State(f"{name}_0"):
                dec.status(f"{name}_1")
            for i, piece in enumerate(pieces):
                with m.State(f"{name}_{i + 1}"):
                    with m.If(tx.free):
                        if isinstance(piece, bytes):
                            tx.send(int.from_bytes(piece, "little"), len(piece))
                        else:
                            tx.send(piece, 4)
                        m.next = f"{name}_{i + 2}" if i + 1 < len(pieces) else "OP"

    @staticmethod
    def _seed(m, dec, rng):
        """SEED: derive the seed vector and load it into the chain."""
        with m.State("SEED_GO"):
            m.d.comb += [rng.seed.payload.eq(dec.arg(Op.SEED, "seed")), rng.seed.valid.eq(1)]
            with m.If(rng.seed.ready):
                m.next = "SEED_WAIT"
        with m.State("SEED_WAIT"):
            with m.If(~rng.busy):
                m.next = "RESPOND"
