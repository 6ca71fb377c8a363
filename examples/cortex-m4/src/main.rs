//! LeNet on a Cortex-M4F with convkit-kernels only: no `std`, no global allocator, weights and
//! sample digits in flash, activations and scratch in static buffers.
//!
//! It classifies the embedded digits, prints each prediction, the accuracy, the executed
//! instructions per inference and the stack high-water mark over semihosting, and exits with
//! success only if every logit is within [`TOLERANCE`] of the host's (computed by `build.rs`
//! with the reference path) and the accuracy equals the host's. Run it with
//! `scripts/run-cortex-m4.sh`.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod lenet;

use convkit_kernels::{Algorithm, Error, Level};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use lenet::{LeNet, Weights, BUF_A_LEN, BUF_B_LEN, CLASSES};

/// What build.rs generated: weights, digits, labels, expected logits, algorithms, scratch size.
mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

/// Largest accepted |logit − host logit|.
const TOLERANCE: f32 = 1e-4;
/// Stack paint pattern.
const PAINT: u32 = 0xC0DE_F00D;
/// How far below the current stack pointer the stack is painted (the RAM target is 48 KB).
const PAINT_DEPTH: usize = 128 * 1024;
/// Iterations of the two-instruction calibration loop.
const CALIBRATION_LOOPS: u32 = 1_000_000;

extern "C" {
    /// End of `.bss`/`.uninit` (cortex-m-rt): the lowest address the stack may grow to.
    static __sheap: u32;
    /// Initial stack pointer (cortex-m-rt): the top of RAM.
    static _stack_start: u32;
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these `static mut`s into `&'static mut` references (in .bss), taken
    // once: no `unsafe`, no heap.
    static mut BUF_A: [f32; BUF_A_LEN] = [0.0; BUF_A_LEN];
    static mut BUF_B: [f32; BUF_B_LEN] = [0.0; BUF_B_LEN];
    static mut SCRATCH: [f32; model::SCRATCH_LEN] = [0.0; model::SCRATCH_LEN];

    let painted = paint_stack();
    let ok = match run(BUF_A, BUF_B, SCRATCH, painted) {
        Ok(ok) => ok,
        Err(e) => {
            // Display, not Debug: the derived Debug pulls in string escaping (~4 KB of flash).
            hprintln!("error: {}", e);
            false
        }
    };
    if ok {
        hprintln!("RESULT: MATCH");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        hprintln!("RESULT: MISMATCH");
        debug::exit(debug::EXIT_FAILURE);
    }
    loop {
        cortex_m::asm::bkpt();
    }
}

fn run(
    a: &mut [f32],
    b: &mut [f32],
    scratch: &mut [f32],
    painted: (usize, usize),
) -> Result<bool, Error> {
    let mut algorithms = [Algorithm::Auto; 5];
    for (slot, name) in algorithms.iter_mut().zip(model::ALGORITHMS) {
        *slot = Algorithm::from_name(name).ok_or(Error::InvalidParameter {
            what: "unknown algorithm name from build.rs",
        })?;
    }
    let net = LeNet::new(algorithms, Level::Portable)?;
    // The static was sized at build time from the same plans; check it at run time anyway.
    if net.scratch_len() > scratch.len() {
        hprintln!(
            "scratch: plans need {} f32, the static has {}",
            net.scratch_len(),
            scratch.len()
        );
        return Ok(false);
    }
    let weights = Weights {
        w: [
            &model::W_1_WEIGHT,
            &model::W_4_WEIGHT,
            &model::W_8_WEIGHT,
            &model::W_10_WEIGHT,
            &model::W_12_WEIGHT,
        ],
        b: [
            &model::W_1_BIAS,
            &model::W_4_BIAS,
            &model::W_8_BIAS,
            &model::W_10_BIAS,
            &model::W_12_BIAS,
        ],
    };
    let n = model::LABELS.len();
    hprintln!(
        "convkit LeNet on Cortex-M4F: {} digits, level {}, scratch {} f32, algorithms:",
        n,
        net.conv[0].level().name(),
        net.scratch_len()
    );
    for (plan, layer) in net.conv.iter().zip(["conv1", "conv2", "fc1", "fc2", "fc3"]) {
        hprintln!("  {}: {}", layer, plan.algorithm().name());
    }

    let mut timer = Timer::new();
    let calibration = timer.calibrate();
    let mut correct = 0usize;
    let mut all_match = true;
    let mut worst = 0.0f32;
    let mut pixels = [0u8; lenet::INPUT_LEN];
    let (mut ticks_min, mut ticks_max, mut ticks_sum) = (u32::MAX, 0u32, 0u64);
    for (i, (&label, expected)) in model::LABELS.iter().zip(&model::EXPECTED).enumerate() {
        let (start, end) = (model::DIGIT_OFFSETS[i], model::DIGIT_OFFSETS[i + 1]);
        let stream = model::DIGIT_STREAM
            .get(start as usize..end as usize)
            .ok_or(Error::InvalidParameter {
                what: "digit offsets out of range",
            })?;
        lenet::decode_zero_runs(stream, &mut pixels)?;
        let mut logits = [0.0f32; CLASSES];
        let t0 = timer.now();
        net.forward(&weights, &pixels, a, b, scratch, &mut logits)?;
        let ticks = timer.since(t0);
        ticks_min = ticks_min.min(ticks);
        ticks_max = ticks_max.max(ticks);
        ticks_sum += u64::from(ticks);
        let predicted = lenet::argmax(&logits);
        correct += usize::from(predicted == usize::from(label));
        let mut diff = 0.0f32;
        for (x, y) in logits.iter().zip(expected) {
            let d = (x - y).abs();
            // NaN fails `d <= TOLERANCE` too.
            if d.is_nan() || d > TOLERANCE {
                diff = f32::INFINITY;
            } else if d > diff {
                diff = d;
            }
        }
        let matches = diff <= TOLERANCE;
        all_match &= matches;
        worst = worst.max(diff);
        // Integers only: float formatting would cost ~10 KB of flash.
        hprintln!(
            "digit {:3} (sample #{:3}): label {} predicted {} {} max|logit - host| = {} e-9{}",
            i,
            model::SAMPLE_INDEX[i],
            label,
            predicted,
            if predicted == usize::from(label) {
                "ok   "
            } else {
                "WRONG"
            },
            nano(diff),
            if matches { "" } else { "  MISMATCH" }
        );
    }
    hprintln!(
        "accuracy: {}/{} = {} per mille (host: {}/{})",
        correct,
        n,
        correct * 1000 / n,
        model::HOST_CORRECT,
        n
    );
    hprintln!(
        "max |logit - host logit| = {} e-9 (tolerance {} e-9)",
        nano(worst),
        nano(TOLERANCE)
    );
    // Instructions = ticks × (calibration instructions / calibration ticks); exact when qemu
    // runs with `-icount shift=0` (virtual time advances one step per instruction).
    let per_tick = |t: u64| t * 2 * u64::from(CALIBRATION_LOOPS) / u64::from(calibration.max(1));
    hprintln!(
        "instructions/inference: mean {} min {} max {} (systick calibration: {} ticks per {} instructions)",
        per_tick(ticks_sum / n as u64),
        per_tick(u64::from(ticks_min)),
        per_tick(u64::from(ticks_max)),
        calibration,
        2 * CALIBRATION_LOOPS
    );
    let used = stack_high_water(painted);
    hprintln!(
        "stack high-water: {} bytes (painted {} bytes below the entry frame)",
        used,
        painted.1 - painted.0
    );
    hprintln!(
        "static buffers: {} bytes (A {} + B {} + scratch {} f32)",
        4 * (a.len() + b.len() + scratch.len()),
        a.len(),
        b.len(),
        scratch.len()
    );
    Ok(all_match && correct == model::HOST_CORRECT)
}

/// `x · 10⁹` as an integer (saturating; NaN and infinity print as `u32::MAX`).
fn nano(x: f32) -> u32 {
    if x.is_finite() {
        (x * 1e9) as u32
    } else {
        u32::MAX
    }
}

/// Fills the unused stack below the current frame with [`PAINT`]; returns the painted range.
#[inline(never)]
fn paint_stack() -> (usize, usize) {
    let sp: usize;
    // SAFETY: reads the stack pointer into a register; touches no memory.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack)) };
    let heap_start = core::ptr::addr_of!(__sheap) as usize;
    // Leave 256 bytes for this function's own frame.
    let top = (sp - 256) & !3;
    let bottom = top.saturating_sub(PAINT_DEPTH).max((heap_start + 3) & !3);
    let mut p = bottom;
    while p < top {
        // SAFETY: [bottom, top) lies between the end of the statics (`__sheap`) and the live
        // stack frames, so it is RAM no Rust object occupies; word-aligned.
        unsafe { (p as *mut u32).write_volatile(PAINT) };
        p += 4;
    }
    (bottom, top)
}

/// Bytes of stack used since reset: from the initial stack pointer down to the lowest word
/// that no longer holds the paint.
fn stack_high_water((bottom, top): (usize, usize)) -> usize {
    let stack_top = core::ptr::addr_of!(_stack_start) as usize;
    let mut p = bottom;
    // SAFETY: the same painted range as above; reads only, word-aligned.
    while p < top && unsafe { (p as *const u32).read_volatile() } == PAINT {
        p += 4;
    }
    stack_top - p
}

/// SysTick on the core clock, counting down over 24 bits.
struct Timer {
    _syst: SYST,
}

impl Timer {
    fn new() -> Timer {
        // `take` succeeds once; this is the only call.
        let mut syst = match cortex_m::Peripherals::take() {
            Some(p) => p.SYST,
            None => panic!("core peripherals already taken"),
        };
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        Timer { _syst: syst }
    }
    fn now(&self) -> u32 {
        SYST::get_current()
    }
    /// Ticks since `t0` (one wrap of the 24-bit counter at most).
    fn since(&self, t0: u32) -> u32 {
        t0.wrapping_sub(self.now()) & 0x00FF_FFFF
    }
    /// Ticks taken by `2 × CALIBRATION_LOOPS` instructions.
    fn calibrate(&mut self) -> u32 {
        let t0 = self.now();
        // SAFETY: a register-only countdown loop: two instructions per iteration.
        unsafe {
            core::arch::asm!(
                "2:",
                "subs {n}, {n}, #1",
                "bne 2b",
                n = inout(reg) CALIBRATION_LOOPS => _,
                options(nomem, nostack),
            );
        }
        self.since(t0)
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if let Some(loc) = info.location() {
        hprintln!("panic at {}:{}", loc.file(), loc.line());
    } else {
        hprintln!("panic");
    }
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("hard fault at pc {:#x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}
