//! Chapter 7.3's Numba demo: the Earth's Kepler orbit around the Sun integrated with
//! the leapfrog (kick-drift-kick) scheme, dt = 1 hour. The science check is the energy:
//! a symplectic integrator keeps the relative energy error bounded at O(dt²), with no
//! secular drift, however many orbits it runs.
//!
//! naive = the chapter's loop: the whole history of positions and velocities stored,
//! energies computed afterwards from the history; vectorized = the state kept in
//! registers, energy tracked on the fly, only a subsampled track stored. Both share the
//! step's arithmetic (`Kick`: one square root and one division per step, with the
//! drift a single addition), so they agree bit for bit. parallel = a single orbit is a
//! strictly sequential recurrence, so it cannot be split: the parallel variant
//! integrates the `orbits` independent orbits
//! (different initial speeds) on separate threads; with orbits = 1 it is the vectorized
//! variant on one thread.

use crate::data::{Dataset, Kind, Table};
use crate::engine::{
    Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, StageWork, Tolerance, Variant,
};
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

pub struct OrbitLeapfrog;

pub const G: f64 = 6.674_30e-11;
pub const M_SUN: f64 = 1.989e30;
pub const AU: f64 = 1.496e11;
pub const V_EARTH: f64 = 29_780.0;
/// Summary keys and artifact names (the result view reads them by these names).
pub const STEPS: &str = "steps";
pub const ORBITS: &str = "orbits";
pub const DT_S: &str = "dt_s";
pub const DAYS: &str = "days";
pub const MAX_REL_ENERGY_ERROR: &str = "max_rel_energy_error";
pub const FINAL_REL_ENERGY_ERROR: &str = "final_rel_energy_error";
pub const MAX_REL_ENERGY_ERROR_ALL_ORBITS: &str = "max_rel_energy_error_all_orbits";
pub const FINAL_RADIUS_AU: &str = "final_radius_au";
/// Orbit 0's sampled track: t_days, x_au, y_au.
pub const TRAJECTORY: &str = "trajectory";
/// Orbit 0's sampled energy: t_days, rel_energy_error = E/E0 − 1.
pub const ENERGY: &str = "energy";
/// Points kept of the trajectory and energy curves.
const TRACK_POINTS: usize = 2_000;
/// Steps between cancellation checks.
const CHECK_EVERY: usize = 1 << 16;
/// Most steps accepted (the vectorized variant needs no memory per step).
pub const MAX_STEPS: usize = 1_000_000_000;
/// Most steps of the naive variant, which stores 72 bytes per step (20M -> 1.44 GB).
pub const MAX_NAIVE_STEPS: usize = 20_000_000;

impl Analysis for OrbitLeapfrog {
    fn id(&self) -> &'static str {
        "orbit-leapfrog"
    }
    fn title(&self) -> &'static str {
        "Kepler orbit (leapfrog)"
    }
    fn section(&self) -> Section {
        Section::Numba
    }
    fn help(&self) -> &'static str {
        "Earth around the Sun by leapfrog (dt = 1 h); the energy error stays bounded at O(dt²). One orbit is a sequential recurrence: 'parallel' spreads several independent orbits (param 'orbits') over threads and cannot speed up a single one."
    }
    fn input_kind(&self) -> Kind {
        Kind::None
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float("dt", "time step in seconds", 3600.0, 1.0, 1.0e6),
            ParamSpec::int(
                "orbits",
                "independent orbits, orbit k starting at speed v0·(1 - 0.01·k) (what 'parallel' spreads over threads)",
                1,
                1,
                64,
            ),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "steps"
    }
    fn default_size(&self) -> usize {
        10_000
    }
    fn quick_size(&self) -> usize {
        10_000
    }
    /// Positions after 10⁷ steps differ from the plain numba leapfrog by 2.2e-9 (our
    /// rearranged step rounds differently and the orbit amplifies it); energy errors are
    /// differences of nearly equal numbers, compared on the absolute floor of 1.
    fn cross_tool_tolerance(&self) -> Tolerance {
        Tolerance::Rel(1e-8)
    }
    fn cost(&self) -> CostModel {
        CostModel {
            // work = steps × orbits.
            time: [(1.0, 0.449e-3), (1.0, 0.297e-3), (1.0, 0.343e-3)],
            mem: (1.0, 56.0),
            w_ref: 1e4,
        }
    }
    fn work(&self, input: &Dataset, params: &Params) -> f64 {
        let orbits = params.opt_i64("orbits").map_or(1.0, |n| n as f64);
        self.size_of(input) as f64 * orbits.max(1.0)
    }
    fn size_of(&self, input: &Dataset) -> usize {
        setup(input).map_or(self.default_size(), |(_, n)| n)
    }
    /// The Earth's initial state and the step count, as a one-row table (the GUI and
    /// `--input` may give another initial state the same way).
    fn generate(&self, size: usize, _seed: u64) -> Result<Dataset> {
        if size > MAX_STEPS {
            return Err(Error::param(format!(
                "orbit-leapfrog: {size} steps is more than the limit of {MAX_STEPS}"
            )));
        }
        let s = initial(0);
        Ok(Dataset::Table(Table {
            columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
            data: Array2::from_shape_vec(
                (1, 7),
                vec![s.r[0], s.r[1], s.r[2], s.v[0], s.v[1], s.v[2], size as f64],
            )
            .map_err(|e| Error::input(format!("initial state: {e}")))?,
        }))
    }
    fn validate(&self, input: &Dataset, params: &Params) -> Result<()> {
        self.parse(input, params).map(drop)
    }
    fn stage_work(&self, input: &Dataset, params: &Params) -> Vec<StageWork> {
        let Ok((_, steps)) = setup(input) else {
            return Vec::new();
        };
        let orbits = params.opt_i64("orbits").map_or(1.0, |n| n.max(1) as f64);
        let samples = track_len(steps, track_stride(steps)) as f64;
        vec![
            // Per step: the drift (3 adds), |r|² (3 multiplies, 2 adds), its square root,
            // product and the division for q (3), the kick t = q·r (3), the synchronised
            // velocity (9), the new half-step velocity (3): 26; the energy from the
            // position and velocity (17) and its relative error (2): 45 flops. Only the
            // track of 32-byte samples (step, x, y, energy) must reach memory.
            StageWork::streaming(
                "integrate",
                32.0 * samples * orbits,
                45.0 * steps as f64 * orbits,
            ),
            // The first orbit's samples read, the trajectory (3 columns) and energy
            // (2 columns) tables written; 6 flops a row (days, x/AU, y/AU, e/e0 − 1).
            StageWork::streaming("tables", (32.0 + 40.0) * samples, 6.0 * samples),
        ]
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let (s0, steps) = self.parse(input, params)?;
        run_steps(variant, s0, steps, params, ctx)
    }
}

impl OrbitLeapfrog {
    /// Initial state and steps, with the parameters checked once: what `validate` reports
    /// and `run` computes on.
    fn parse(&self, input: &Dataset, params: &Params) -> Result<(State, usize)> {
        let setup = setup(input)?;
        params.f64("dt")?;
        params.usize("orbits")?;
        Ok(setup)
    }
}

/// Columns of the initial-state table (SI units) and the step count.
pub const COLUMNS: [&str; 7] = ["x_m", "y_m", "z_m", "vx_m_s", "vy_m_s", "vz_m_s", "steps"];

/// Initial state and steps: no input = the Earth for the default 10,000 steps; a table
/// = its first row (x, y, z, vx, vy, vz[, steps]).
fn setup(input: &Dataset) -> Result<(State, usize)> {
    match input {
        Dataset::None => Ok((initial(0), OrbitLeapfrog.default_size())),
        Dataset::Table(t) if t.data.ncols() >= 6 && t.data.nrows() >= 1 => {
            let row = t.data.row(0);
            if let Some(v) = row.iter().find(|v| !v.is_finite()) {
                return Err(Error::input(format!(
                    "the initial state has a non-finite value ({v})"
                )));
            }
            let steps = if t.data.ncols() >= 7 {
                let n = row[6];
                if !(n >= 2.0 && n <= MAX_STEPS as f64) {
                    return Err(Error::input(format!(
                        "the step count {n} is outside 2..={MAX_STEPS}"
                    )));
                }
                n as usize
            } else {
                OrbitLeapfrog.default_size()
            };
            let s = State {
                r: [row[0], row[1], row[2]],
                v: [row[3], row[4], row[5]],
            };
            if s.r.iter().all(|&x| x == 0.0) {
                return Err(Error::input("the initial position is the Sun's centre (r = 0)"));
            }
            Ok((s, steps))
        }
        Dataset::Table(t) => Err(Error::input(format!(
            "an initial-state table needs one row of 6 or 7 columns (x, y, z, vx, vy, vz[, steps]); this one is {}×{}",
            t.data.nrows(),
            t.data.ncols()
        ))),
        other => Err(Error::input(format!(
            "orbit-leapfrog takes no input or an initial-state table, not a {}",
            other.kind()
        ))),
    }
}

/// Run with an explicit step count (tests and callers that do not go through `generate`).
pub fn run_steps(
    variant: Variant,
    start: State,
    steps: usize,
    params: &Params,
    ctx: &Ctx,
) -> Result<Output> {
    let dt = params.f64("dt")?;
    let orbits = params.usize("orbits")?.max(1);
    if steps < 2 {
        return Err(Error::input(format!(
            "{steps} steps: at least 2 are needed"
        )));
    }
    if steps > MAX_STEPS {
        return Err(Error::input(format!(
            "{steps} steps is more than the limit of {MAX_STEPS}"
        )));
    }
    if variant == Variant::Naive && steps > MAX_NAIVE_STEPS {
        return Err(Error::input(format!(
            "the naive variant stores every step (72 bytes each); {steps} steps is more than its limit of {MAX_NAIVE_STEPS}"
        )));
    }
    let stride = track_stride(steps);
    let one = |k: usize| -> Result<Track> {
        let s0 = scaled(start, k);
        match variant {
            Variant::Naive => naive(s0, dt, steps, stride, ctx),
            _ => fast(s0, dt, steps, stride, ctx),
        }
    };
    let tracks: Vec<Track> = stage!(
        ctx,
        "integrate",
        if variant == Variant::Parallel {
            (0..orbits)
                .into_par_iter()
                .map(one)
                .collect::<Result<_>>()?
        } else {
            let mut v = Vec::with_capacity(orbits);
            for k in 0..orbits {
                v.push(one(k)?);
                ctx.progress((k + 1) as f64 / orbits as f64);
            }
            v
        }
    );
    ctx.progress(1.0);
    let t0 = &tracks[0];
    let (traj, energy) = stage!(ctx, "tables", {
        let m = t0.xy.len();
        let (traj, energy) = tables(&t0.xy, dt, t0.e0);
        let shaped = |v: Vec<f64>, cols: usize| {
            Array2::from_shape_vec((m, cols), v)
                .map_err(|e| Error::input(format!("orbit-leapfrog tables: {e}")))
        };
        (shaped(traj, 3)?, shaped(energy, 2)?)
    });
    let worst = tracks.iter().map(|t| t.max_rel_de).fold(0.0, f64::max);
    let finals: Vec<f64> = tracks.iter().map(|t| t.final_r / AU).collect();
    Ok(Output::new()
        .sum(STEPS, steps)
        .sum(ORBITS, orbits)
        .sum(DT_S, dt)
        .sum(DAYS, steps as f64 * dt / 86_400.0)
        .sum(MAX_REL_ENERGY_ERROR, t0.max_rel_de)
        .sum(FINAL_REL_ENERGY_ERROR, t0.final_e / t0.e0 - 1.0)
        .sum(MAX_REL_ENERGY_ERROR_ALL_ORBITS, worst)
        .sum("final_x_au", t0.final_x / AU)
        .sum("final_y_au", t0.final_y / AU)
        .sum(FINAL_RADIUS_AU, finals)
        .table(
            TRAJECTORY,
            &["t_days", "x_au", "y_au"],
            traj,
            Tolerance::Exact,
        )
        .table(
            ENERGY,
            &["t_days", "rel_energy_error"],
            energy,
            Tolerance::Exact,
        ))
}

/// The first orbit's trajectory (days, x/AU, y/AU) and energy (days, e/e0 − 1) rows as
/// flat row-major buffers. The divider's throughput, not its latency, bounds this loop:
/// four scalar divisions a row took 14–17 µs for 2,000 rows on Zen 3. Compiled for AVX2,
/// LLVM divides the same column of four rows in one instruction (8–10 µs; with the rows'
/// quotients as one 4-lane vector each, 19 µs: the lanes then had to be taken apart
/// again); without it, two lanes. The same bits either way: IEEE division is correctly
/// rounded.
fn tables(xy: &[(usize, f64, f64, f64)], dt: f64, e0: f64) -> (Vec<f64>, Vec<f64>) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::simd::has_avx2() {
        // SAFETY: the CPU supports AVX2 (checked at run time).
        return unsafe { tables_avx2(xy, dt, e0) };
    }
    tables_body(xy, dt, e0)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tables_avx2(xy: &[(usize, f64, f64, f64)], dt: f64, e0: f64) -> (Vec<f64>, Vec<f64>) {
    tables_body(xy, dt, e0)
}

/// The loop of [`tables`], for each instruction set: the buffers are zeroed first
/// (10⁴ values), so the rows are written through plain slices.
#[inline(always)]
fn tables_body(xy: &[(usize, f64, f64, f64)], dt: f64, e0: f64) -> (Vec<f64>, Vec<f64>) {
    let mut traj = vec![0.0; 3 * xy.len()];
    let mut energy = vec![0.0; 2 * xy.len()];
    let den = [86_400.0, AU, AU, e0];
    for ((&(step, x, y, e), t), en) in xy
        .iter()
        .zip(traj.chunks_exact_mut(3))
        .zip(energy.chunks_exact_mut(2))
    {
        let num = [step as f64 * dt, x, y, e];
        let q: [f64; 4] = std::array::from_fn(|k| num[k] / den[k]);
        t.copy_from_slice(&q[..3]);
        en.copy_from_slice(&[q[0], q[3] - 1.0]);
    }
    (traj, energy)
}

/// Position and velocity (m, m/s), 3-D as in the chapter.
#[derive(Clone, Copy, Debug)]
pub struct State {
    pub r: [f64; 3],
    pub v: [f64; 3],
}

/// Orbit k: the Earth at 1 AU with its speed scaled by (1 - 0.01·k).
pub fn initial(k: usize) -> State {
    scaled(
        State {
            r: [AU, 0.0, 0.0],
            v: [0.0, V_EARTH, 0.0],
        },
        k,
    )
}

/// Orbit k of a run: the start state with its velocity scaled by (1 - 0.01·k).
pub fn scaled(s: State, k: usize) -> State {
    let f = 1.0 - 0.01 * k as f64;
    State {
        r: s.r,
        v: [s.v[0] * f, s.v[1] * f, s.v[2] * f],
    }
}

const GM: f64 = G * M_SUN;

/// Specific orbital energy v²/2 - GM/r (for callers; the integrators use `Kick::energy`).
pub fn energy(r: [f64; 3], v: [f64; 3]) -> f64 {
    0.5 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
        - GM / (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt()
}

/// The arithmetic of the leapfrog, shared by every variant so they agree bit for bit.
/// Kick-drift-kick with the two half kicks of consecutive steps merged (the same
/// scheme; it only saves work), carrying the half-step velocity pre-multiplied by dt,
/// `u = dt·v(n+½)`, so the drift is one addition: the chain from one position to the next
/// is then r += u, |r|², one square root, one multiply, one division, t = q·r, u += t.
/// `q = -GM·dt² / (|r|²·|r|)` is the full kick of `u` per unit of r. The synchronised
/// velocity for the energy, v(n) = (u(n-½) + t/2)/dt, and the potential
/// -GM/|r| = q·|r|²/dt² are computed beside the chain, not on it.
#[derive(Clone, Copy)]
struct Kick {
    /// -GM·dt².
    c: f64,
    dt: f64,
    inv_dt: f64,
    inv_dt2: f64,
}

impl Kick {
    fn new(dt: f64) -> Self {
        Kick {
            c: -GM * (dt * dt),
            dt,
            inv_dt: 1.0 / dt,
            inv_dt2: 1.0 / (dt * dt),
        }
    }
    /// (q, |r|²) at position r.
    #[inline(always)]
    fn q(&self, r: [f64; 3]) -> (f64, f64) {
        let r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
        (self.c / (r2 * r2.sqrt()), r2)
    }
    /// Specific energy v²/2 - GM/|r| from the (q, |r|²) of the same position.
    #[inline(always)]
    fn energy(&self, q: f64, r2: f64, v: [f64; 3]) -> f64 {
        0.5 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) + q * r2 * self.inv_dt2
    }
    /// The first half kick: u(½) = dt·v(0) + t(0)/2.
    #[inline(always)]
    fn start(&self, r: [f64; 3], v: [f64; 3]) -> [f64; 3] {
        let (q, _) = self.q(r);
        [
            self.dt * v[0] + 0.5 * (q * r[0]),
            self.dt * v[1] + 0.5 * (q * r[1]),
            self.dt * v[2] + 0.5 * (q * r[2]),
        ]
    }
    /// One step from r(n) and u(n+½): returns r(n+1), u(n+3/2), the synchronised
    /// v(n+1), and q, |r|² at r(n+1).
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    fn step(&self, r: [f64; 3], u: [f64; 3]) -> ([f64; 3], [f64; 3], [f64; 3], f64, f64) {
        let rn = [r[0] + u[0], r[1] + u[1], r[2] + u[2]];
        let (q, r2) = self.q(rn);
        let t = [q * rn[0], q * rn[1], q * rn[2]];
        let v = [
            (u[0] + 0.5 * t[0]) * self.inv_dt,
            (u[1] + 0.5 * t[1]) * self.inv_dt,
            (u[2] + 0.5 * t[2]) * self.inv_dt,
        ];
        let un = [u[0] + t[0], u[1] + t[1], u[2] + t[2]];
        (rn, un, v, q, r2)
    }
}

/// What a run keeps of one orbit.
#[derive(Clone, Debug)]
struct Track {
    /// (step, x, y, energy) every `stride` steps, plus the last step.
    xy: Vec<(usize, f64, f64, f64)>,
    e0: f64,
    max_rel_de: f64,
    final_e: f64,
    final_r: f64,
    final_x: f64,
    final_y: f64,
}

fn summarize(
    xy: Vec<(usize, f64, f64, f64)>,
    e0: f64,
    max_rel_de: f64,
    last: State,
    final_e: f64,
) -> Track {
    Track {
        xy,
        e0,
        max_rel_de,
        final_e,
        final_r: (last.r[0] * last.r[0] + last.r[1] * last.r[1] + last.r[2] * last.r[2]).sqrt(),
        final_x: last.r[0],
        final_y: last.r[1],
    }
}

/// The chapter's form: the whole history of positions and velocities stored (48 bytes
/// a step, plus the half-step velocities), then the energies computed from the stored
/// history in a second pass. Row i holds the state after i steps (row 0 = start).
fn naive(s0: State, dt: f64, steps: usize, stride: usize, ctx: &Ctx) -> Result<Track> {
    let kick = Kick::new(dt);
    let mut pos: Vec<[f64; 3]> = vec![[0.0; 3]; steps];
    let mut vel: Vec<[f64; 3]> = vec![[0.0; 3]; steps];
    let mut half: Vec<[f64; 3]> = vec![[0.0; 3]; steps];
    pos[0] = s0.r;
    vel[0] = s0.v;
    half[0] = kick.start(s0.r, s0.v);
    for i in 1..steps {
        if i % CHECK_EVERY == 0 {
            ctx.check()?;
        }
        let (r, u, v, _, _) = kick.step(pos[i - 1], half[i - 1]);
        pos[i] = r;
        half[i] = u;
        vel[i] = v;
    }
    let energy_at = |i: usize| {
        let (q, r2) = kick.q(pos[i]);
        kick.energy(q, r2, vel[i])
    };
    let e0 = energy_at(0);
    let mut max_rel = 0.0f64;
    let mut xy = Vec::new();
    let mut last_e = e0;
    for (i, p) in pos.iter().enumerate() {
        if i % CHECK_EVERY == 0 {
            ctx.check()?;
        }
        let e = energy_at(i);
        max_rel = max_rel.max((e / e0 - 1.0).abs());
        if i % stride == 0 || i == steps - 1 {
            xy.push((i, p[0], p[1], e));
        }
        last_e = e;
    }
    let last = State {
        r: pos[steps - 1],
        v: vel[steps - 1],
    };
    Ok(summarize(xy, e0, max_rel, last, last_e))
}

/// Steps between the samples of a run of `steps` steps (about TRACK_POINTS samples).
fn track_stride(steps: usize) -> usize {
    steps.div_ceil(TRACK_POINTS).max(1)
}

/// Samples a track of `steps` states keeps: state 0 and every `stride`-th after it, plus
/// the last when the stride skips it (what `naive` pushes, and `fast` preallocates).
fn track_len(steps: usize, stride: usize) -> usize {
    steps.div_ceil(stride) + usize::from(!(steps.max(1) - 1).is_multiple_of(stride))
}

/// Where the register loop is in its track: the next free sample slot and the steps
/// left until the next sample.
#[derive(Clone, Copy)]
struct Sampling {
    stride: usize,
    countdown: usize,
    next: usize,
}

/// `n` steps with the state in registers, the samples written on the way: the
/// recurrence, the running lowest and highest energy, and every `stride`-th state stored
/// into `xy` (preallocated, so the loop has no call that would spill the state; a
/// sample is a predictable branch and four stores beside the chain). `first` is the
/// index of the first state computed here. Before, the loop stopped at every sample (a
/// call, the state through memory and back): at 10⁴ steps and a sample every 5 steps
/// that cost 4–5 ns a step on top of the 20.5 ns recurrence (Zen 3). The worst
/// |e/e0 - 1| is taken from the lowest and highest e afterwards: e ↦ |fl(fl(e/e0) - 1)|
/// is monotone on each side of its minimum, so its maximum over the steps is at one of
/// those two, bit for bit what a division per step would find, without a second
/// division on the divider the recurrence waits for.
#[inline(never)]
#[allow(clippy::type_complexity)]
fn segment(
    kick: Kick,
    (mut r, mut u, mut v): ([f64; 3], [f64; 3], [f64; 3]),
    first: usize,
    n: usize,
    (mut lo, mut hi): (f64, f64),
    mut at: Sampling,
    xy: &mut [(usize, f64, f64, f64)],
) -> ([f64; 3], [f64; 3], [f64; 3], f64, (f64, f64), Sampling) {
    let mut e = f64::NAN;
    for i in first..first + n {
        let (rn, un, vn, q, r2) = kick.step(r, u);
        r = rn;
        u = un;
        v = vn;
        e = kick.energy(q, r2, v);
        // As f64::min/max: a NaN energy never replaces the extremes so far.
        if e < lo {
            lo = e;
        }
        if e > hi {
            hi = e;
        }
        at.countdown -= 1;
        if at.countdown == 0 {
            at.countdown = at.stride;
            xy[at.next] = (i, r[0], r[1], e);
            at.next += 1;
        }
    }
    (r, u, v, e, (lo, hi), at)
}

/// One force evaluation per step, energy on the fly, only the sampled track stored: the
/// state stays in registers through segments of up to CHECK_EVERY steps, between the
/// cancellation checks. Bit-identical to `naive`: the same operations in the same order.
fn fast(s0: State, dt: f64, steps: usize, stride: usize, ctx: &Ctx) -> Result<Track> {
    let kick = Kick::new(dt);
    let (mut r, mut v) = (s0.r, s0.v);
    let mut u = kick.start(r, v);
    let (q, r2) = kick.q(r);
    let e0 = kick.energy(q, r2, v);
    let mut e = e0;
    let mut range = (e0, e0);
    let mut xy = vec![(0, 0.0, 0.0, 0.0); track_len(steps, stride)];
    xy[0] = (0, r[0], r[1], e0);
    let mut at = Sampling {
        stride,
        countdown: stride,
        next: 1,
    };
    // `done` counts the states so far (index done-1).
    let mut done = 1;
    while done < steps {
        let n = (steps - done).min(CHECK_EVERY);
        (r, u, v, e, range, at) = segment(kick, (r, u, v), done, n, range, at, &mut xy);
        done += n;
        ctx.check()?;
    }
    // A slot left over is the last state's, which the stride skipped.
    if let Some(last) = xy.get_mut(at.next) {
        *last = (steps - 1, r[0], r[1], e);
    }
    let rel = |x: f64| (x / e0 - 1.0).abs();
    let worst = rel(range.0).max(rel(range.1));
    Ok(summarize(xy, e0, worst, State { r, v }, e))
}

/// Kepler period (s) of an orbit from its initial state (vis-viva for the semi-major axis).
pub fn kepler_period(s: State) -> f64 {
    let r = (s.r[0] * s.r[0] + s.r[1] * s.r[1] + s.r[2] * s.r[2]).sqrt();
    let v2 = s.v[0] * s.v[0] + s.v[1] * s.v[1] + s.v[2] * s.v[2];
    let a = 1.0 / (2.0 / r - v2 / GM);
    2.0 * std::f64::consts::PI * (a * a * a / GM).sqrt()
}

#[cfg(test)]
mod tests {

    #[test]
    fn declared_work_counts_the_stored_track() {
        // 5003 steps of 45 flops; the track keeps every 3rd step plus the last one, and
        // its length is what the naive loop stores.
        let input = OrbitLeapfrog.generate(5003, 0).expect("generate");
        let params = Params::defaults(&OrbitLeapfrog.params());
        let work = OrbitLeapfrog.stage_work(&input, &params);
        let ctx = Ctx::detached(1);
        let track = naive(initial(0), 3600.0, 5003, 3, &ctx).expect("naive");
        assert_eq!(track.xy.len(), 1669);
        assert_eq!(work[0].stage, "integrate");
        assert_eq!(
            (work[0].bytes, work[0].flops),
            (32.0 * 1669.0, 45.0 * 5003.0)
        );
        assert_eq!(
            (work[1].bytes, work[1].flops),
            (72.0 * 1669.0, 6.0 * 1669.0)
        );
    }
    use super::*;

    /// The register loop (one 1/|r| per step, countdown sampling) reproduces the chapter's
    /// stored-history loop bit for bit, including the extra last sample when the stride
    /// does not divide the step count.
    #[test]
    fn fast_equals_naive_bitwise() {
        let ctx = Ctx::detached(1);
        for (steps, stride) in [(5003, 3), (2, 1), (4000, 2), (777, 1000)] {
            let s0 = initial(2);
            let a = naive(s0, 3600.0, steps, stride, &ctx).expect("naive");
            let b = fast(s0, 3600.0, steps, stride, &ctx).expect("fast");
            assert_eq!(a.xy, b.xy, "steps {steps} stride {stride}");
            assert_eq!(a.max_rel_de.to_bits(), b.max_rel_de.to_bits());
            assert_eq!(a.final_e.to_bits(), b.final_e.to_bits());
            assert_eq!(a.final_x.to_bits(), b.final_x.to_bits());
            assert_eq!(a.xy.last().map(|p| p.0), Some(steps - 1));
        }
    }

    /// The tables' quotients, four rows a vector (or two lanes without AVX2), are the
    /// scalar divisions' bits, on a ragged row count.
    #[test]
    fn tables_are_the_scalar_quotients() {
        let ctx = Ctx::detached(1);
        let track = fast(initial(1), 3600.0, 4003, 7, &ctx).expect("fast");
        let (dt, e0) = (3600.0, track.e0);
        let mut want_traj = Vec::new();
        let mut want_energy = Vec::new();
        for &(step, x, y, e) in &track.xy {
            let days = step as f64 * dt / 86_400.0;
            want_traj.extend_from_slice(&[days, x / AU, y / AU]);
            want_energy.extend_from_slice(&[days, e / e0 - 1.0]);
        }
        assert_ne!(track.xy.len() % 4, 0, "a ragged last vector");
        for (traj, energy) in [tables(&track.xy, dt, e0), tables_body(&track.xy, dt, e0)] {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&traj), bits(&want_traj));
            assert_eq!(bits(&energy), bits(&want_energy));
        }
    }

    /// A cancelled run of the largest size stops at its first check.
    #[test]
    fn cancel_stops_a_long_orbit() {
        let control = crate::engine::Control::new();
        control.cancel();
        let ctx = Ctx::new(control, 1, 0.0, 1.0);
        let r = fast(
            initial(0),
            3600.0,
            MAX_STEPS,
            MAX_STEPS / TRACK_POINTS,
            &ctx,
        );
        assert!(matches!(r, Err(Error::Cancelled)));
    }
}
