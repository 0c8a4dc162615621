// The board top under Verilator, driven through its UART pins from a byte pipe (zoforge.sim.verilator_board).
// Requests on stdin, answers on stdout, little-endian:
//   'W' u32 n, n bytes      queue bytes to send on rx (no answer)
//   'R' u16 term, u64 max   run until a byte equal to term (0xFFFF: none) has arrived on tx, or max
//                           cycles have passed; answer u64 cycles, u32 framing errors, u32 n, n bytes
//                           (the received bytes up to and including term; later ones stay buffered)
//   'C' u64 cycles          run; answer u64 cycles
//   'Q'                     finish (and close the waveform)
// argv[1] = divisor (clock cycles per UART bit), argv[2] = VCD path (traced builds only).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <vector>
#include "verilated.h"
#include "Vboard_top.h"
#ifdef ZOFORGE_TRACE
#include "verilated_vcd_c.h"
#endif

static uint64_t cycles = 0;
static uint32_t framing_errors = 0;
static std::deque<uint8_t> to_send;
static std::vector<uint8_t> received;
static Vboard_top* top;
static VerilatedContext* ctx;
#ifdef ZOFORGE_TRACE
static VerilatedVcdC* vcd = nullptr;
#endif
static int divisor;

// Transmitter on rx: the ten bits of 8N1, `divisor` cycles each.
static int tx_bit = -1, tx_left = 0, tx_byte = 0;
// Receiver on tx: a falling edge starts a character; bits are sampled in their middle.
static int rx_state = -1, rx_left = 0, rx_byte = 0, last_tx = 1;

static void step() {
    if (tx_bit < 0 && !to_send.empty()) {
        tx_byte = to_send.front();
        to_send.pop_front();
        tx_bit = 0;
        tx_left = divisor;
    }
    int bit = 1;
    if (tx_bit == 0) bit = 0;
    else if (tx_bit >= 1 && tx_bit <= 8) bit = (tx_byte >> (tx_bit - 1)) & 1;
    top->rx = bit;
    top->clk = 0;
    top->eval();
#ifdef ZOFORGE_TRACE
    if (vcd) vcd->dump(2 * cycles);
#endif
    top->clk = 1;
    top->eval();
#ifdef ZOFORGE_TRACE
    if (vcd) vcd->dump(2 * cycles + 1);
#endif
    cycles++;
    if (tx_bit >= 0 && --tx_left == 0) {
        tx_left = divisor;
        if (++tx_bit == 10) tx_bit = -1;
    }
    int tx = top->tx;
    if (rx_state < 0) {
        if (last_tx && !tx) { rx_state = 0; rx_left = divisor / 2; rx_byte = 0; }
    } else if (--rx_left == 0) {
        if (rx_state == 0) {
            if (tx) rx_state = -1;                           // a glitch
            else { rx_state = 1; rx_left = divisor; }
        } else if (rx_state <= 8) {
            rx_byte |= tx << (rx_state - 1);
            rx_state++;
            rx_left = divisor;
        } else {
            if (tx) received.push_back((uint8_t)rx_byte); else framing_errors++;
            rx_state = -1;
        }
    }
    last_tx = tx;
}

static bool read_exact(void* p, size_t n) { return fread(p, 1, n, stdin) == n; }
static void write_all(const void* p, size_t n) { fwrite(p, 1, n, stdout); }

int main(int argc, char** argv) {
    divisor = argc > 1 ? atoi(argv[1]) : 12;
    ctx = new VerilatedContext;
    top = new Vboard_top{ctx};
#ifdef ZOFORGE_TRACE
    if (argc > 2) {
        ctx->traceEverOn(true);
        vcd = new VerilatedVcdC;
        top->trace(vcd, 99);
        vcd->open(argv[2]);
    }
#endif
    top->rx = 1;
    top->rst = 1;
    for (int k = 0; k < 2; k++) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
    top->rst = 0;
    for (;;) {
        int op = fgetc(stdin);
        if (op == EOF || op == 'Q') break;
        if (op == 'W') {
            uint32_t n;
            if (!read_exact(&n, 4)) break;
            std::vector<uint8_t> buf(n);
            if (n && !read_exact(buf.data(), n)) break;
            for (uint8_t b : buf) to_send.push_back(b);
        } else if (op == 'R') {
            uint16_t term; uint64_t max;
            if (!read_exact(&term, 2) || !read_exact(&max, 8)) break;
            uint64_t limit = cycles + max;
            size_t seen = 0, cut = 0;
            bool found = false;
            for (;;) {
                for (; seen < received.size(); seen++)
                    if (received[seen] == term) { found = true; cut = seen + 1; break; }
                if (found) break;
                if (cycles >= limit) { cut = received.size(); break; }
                step();
            }
            uint32_t n = (uint32_t)cut;
            write_all(&cycles, 8); write_all(&framing_errors, 4); write_all(&n, 4);
            if (n) write_all(received.data(), n);
            received.erase(received.begin(), received.begin() + cut);
            fflush(stdout);
        } else if (op == 'C') {
            uint64_t n;
            if (!read_exact(&n, 8)) break;
            for (uint64_t k = 0; k < n; k++) step();
            write_all(&cycles, 8);
            fflush(stdout);
        } else {
            fprintf(stderr, "board harness: unknown request %d\n", op);
            return 2;
        }
    }
#ifdef ZOFORGE_TRACE
    if (vcd) vcd->close();
#endif
    top->final();
    delete top;
    delete ctx;
    return 0;
}
