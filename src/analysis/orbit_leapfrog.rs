//! Chapter 7.3's Numba demo: the Earth's Kepler orbit around the Sun integrated with
//! the leapfrog (kick-drift-kick) scheme, dt = 1 hour. The science check is the energy:
//! a symplectic integrator keeps the relative energy error bounded at O(dt²), with no
//! secular drift, however many orbits it runs.
//!
//! naive = the chapter's loop: full position and velocity histories stored, the
//! acceleration evaluated twice per step, energies computed afterwards from the history;
//! vectorized = the state kept in registers, one force evaluation per step (the end-of-step
//! acceleration is reused as the next start), energy tracked on the fly, only a
//! subsampled track stored. parallel = a single orbit is a strictly sequential recurrence,
//! so it cannot be split: the parallel variant integrates the `orbits` independent orbits
//! (different initial speeds) on separate threads; with orbits = 1 it is the vectorized
//! variant on one thread.

use super::{Analysis, Ctx, Output, ParamSpec, Params, Tolerance, Variant};
use crate::data::{Dataset, Table};
use crate::{stage, Error, Result};
use ndarray::Array2;
use rayon::prelude::*;

pub struct OrbitLeapfrog;

pub const G: f64 = 6.674_30e-11;
pub const M_SUN: f64 = 1.989e30;
pub const AU: f64 = 1.496e11;
pub const V_EARTH: f64 = 29_780.0;
/// Points kept of the trajectory and energy curves.
const TRACK_POINTS: usize = 2_000;
/// Steps between cancellation checks.
const CHECK_EVERY: usize = 1 << 16;
/// Most steps accepted (the vectorized variant needs no memory per step).
pub const MAX_STEPS: usize = 1_000_000_000;
/// Most steps of the naive variant, which stores 48 bytes per step (20M -> 960 MB).
pub const MAX_NAIVE_STEPS: usize = 20_000_000;

impl Analysis for OrbitLeapfrog {
    fn id(&self) -> &'static str {
        "orbit-leapfrog"
    }
    fn title(&self) -> &'static str {
        "Kepler orbit (leapfrog)"
    }
    fn section(&self) -> &'static str {
        "7.3 Numba"
    }
    fn help(&self) -> &'static str {
        "Earth around the Sun by leapfrog (dt = 1 h); the energy error stays bounded at O(dt²). One orbit is a sequential recurrence: 'parallel' spreads several independent orbits (param 'orbits') over threads and cannot speed up a single one."
    }
    fn input_kind(&self) -> &'static str {
        "none"
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
        setup(input)?;
        params.f64("dt")?;
        params.usize("orbits")?;
        Ok(())
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        self.validate(input, params)?;
        let (s0, steps) = setup(input)?;
        run_steps(variant, s0, steps, params, ctx)
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
            "the naive variant stores every step (48 bytes each); {steps} steps is more than its limit of {MAX_NAIVE_STEPS}"
        )));
    }
    let stride = steps.div_ceil(TRACK_POINTS).max(1);
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
        let mut traj = Array2::zeros((m, 3));
        let mut energy = Array2::zeros((m, 2));
        for (r, &(step, x, y, e)) in t0.xy.iter().enumerate() {
            let days = step as f64 * dt / 86_400.0;
            traj[[r, 0]] = days;
            traj[[r, 1]] = x / AU;
            traj[[r, 2]] = y / AU;
            energy[[r, 0]] = days;
            energy[[r, 1]] = e / t0.e0 - 1.0;
        }
        (traj, energy)
    });
    let worst = tracks.iter().map(|t| t.max_rel_de).fold(0.0, f64::max);
    let finals: Vec<f64> = tracks.iter().map(|t| t.final_r / AU).collect();
    Ok(Output::new()
        .sum("steps", steps)
        .sum("orbits", orbits)
        .sum("dt_s", dt)
        .sum("days", steps as f64 * dt / 86_400.0)
        .sum("max_rel_energy_error", t0.max_rel_de)
        .sum("final_rel_energy_error", t0.final_e / t0.e0 - 1.0)
        .sum("max_rel_energy_error_all_orbits", worst)
        .sum("final_x_au", t0.final_x / AU)
        .sum("final_y_au", t0.final_y / AU)
        .sum("final_radius_au", finals)
        .table(
            "trajectory",
            &["t_days", "x_au", "y_au"],
            traj,
            Tolerance::Exact,
        )
        .table(
            "energy",
            &["t_days", "rel_energy_error"],
            energy,
            Tolerance::Exact,
        ))
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

/// 1/|r|: the one square root and the one division of a step, shared by the force and
/// the potential energy at the same position.
#[inline(always)]
fn inv_r(r: [f64; 3]) -> f64 {
    1.0 / (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt()
}

/// Acceleration factor k (a = k·r) from 1/|r|.
#[inline(always)]
fn accel_k(inv: f64) -> f64 {
    -GM * (inv * inv * inv)
}

#[inline(always)]
fn accel(r: [f64; 3]) -> [f64; 3] {
    let k = accel_k(inv_r(r));
    [k * r[0], k * r[1], k * r[2]]
}

/// Specific orbital energy v²/2 - GM/r, given 1/|r|.
#[inline(always)]
fn energy_inv(inv: f64, v: [f64; 3]) -> f64 {
    0.5 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) - GM * inv
}

/// Specific orbital energy v²/2 - GM/r.
#[inline(always)]
pub fn energy(r: [f64; 3], v: [f64; 3]) -> f64 {
    energy_inv(inv_r(r), v)
}

/// One kick-drift-kick step given the acceleration at the start; returns the new state
/// and the acceleration at the new position.
#[inline(always)]
fn step(s: State, a: [f64; 3], dt: f64) -> (State, [f64; 3]) {
    let h = 0.5 * dt;
    let vh = [s.v[0] + h * a[0], s.v[1] + h * a[1], s.v[2] + h * a[2]];
    let r = [
        s.r[0] + dt * vh[0],
        s.r[1] + dt * vh[1],
        s.r[2] + dt * vh[2],
    ];
    let an = accel(r);
    let v = [vh[0] + h * an[0], vh[1] + h * an[1], vh[2] + h * an[2]];
    (State { r, v }, an)
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

fn summarize(xy: Vec<(usize, f64, f64, f64)>, e0: f64, max_rel_de: f64, last: State) -> Track {
    let final_e = energy(last.r, last.v);
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

/// The chapter's form: histories of every step, two force evaluations per step, energy
/// from the stored history afterwards. Row i holds the state after i steps (row 0 = start).
fn naive(s0: State, dt: f64, steps: usize, stride: usize, ctx: &Ctx) -> Result<Track> {
    let mut pos: Vec<[f64; 3]> = vec![[0.0; 3]; steps];
    let mut vel: Vec<[f64; 3]> = vec![[0.0; 3]; steps];
    pos[0] = s0.r;
    vel[0] = s0.v;
    for i in 1..steps {
        if i % CHECK_EVERY == 0 {
            ctx.check()?;
        }
        let s = State {
            r: pos[i - 1],
            v: vel[i - 1],
        };
        let a = accel(s.r);
        let (n, _) = step(s, a, dt);
        pos[i] = n.r;
        vel[i] = n.v;
    }
    let e0 = energy(pos[0], vel[0]);
    let mut max_rel = 0.0f64;
    let mut xy = Vec::new();
    for i in 0..steps {
        let e = energy(pos[i], vel[i]);
        max_rel = max_rel.max((e / e0 - 1.0).abs());
        if i % stride == 0 || i == steps - 1 {
            xy.push((i, pos[i][0], pos[i][1], e));
        }
    }
    let last = State {
        r: pos[steps - 1],
        v: vel[steps - 1],
    };
    Ok(summarize(xy, e0, max_rel, last))
}

/// State in registers; per step one square root and one division (1/|r|), shared by the
/// force and the energy at the new position (the chapter's loop, and numba's, spend two of
/// each on the force alone plus another pair on the energy). The track is sampled with a
/// countdown rather than a `k % stride` integer division per step. Bit-identical to
/// `naive`: the same operations in the same order.
fn fast(s0: State, dt: f64, steps: usize, stride: usize, ctx: &Ctx) -> Result<Track> {
    let h = 0.5 * dt;
    let (mut r, mut v) = (s0.r, s0.v);
    let mut inv = inv_r(r);
    let e0 = energy_inv(inv, v);
    let mut k = accel_k(inv);
    let mut max_rel = 0.0f64;
    let mut xy = Vec::with_capacity(steps / stride + 2);
    xy.push((0, r[0], r[1], e0));
    // Steps until the next sample (samples at multiples of `stride`).
    let mut countdown = stride;
    let mut i = 1;
    while i < steps {
        ctx.check()?;
        let end = (i + CHECK_EVERY).min(steps);
        for step_no in i..end {
            let vh = [
                v[0] + h * (k * r[0]),
                v[1] + h * (k * r[1]),
                v[2] + h * (k * r[2]),
            ];
            r = [r[0] + dt * vh[0], r[1] + dt * vh[1], r[2] + dt * vh[2]];
            inv = inv_r(r);
            k = accel_k(inv);
            v = [
                vh[0] + h * (k * r[0]),
                vh[1] + h * (k * r[1]),
                vh[2] + h * (k * r[2]),
            ];
            let e = energy_inv(inv, v);
            max_rel = max_rel.max((e / e0 - 1.0).abs());
            countdown -= 1;
            if countdown == 0 {
                countdown = stride;
                xy.push((step_no, r[0], r[1], e));
            }
        }
        i = end;
    }
    if xy.last().map(|p| p.0) != Some(steps - 1) {
        xy.push((steps - 1, r[0], r[1], energy_inv(inv, v)));
    }
    Ok(summarize(xy, e0, max_rel, State { r, v }))
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
            assert_eq!(a.xy.last().map(|p| p.0), Some(steps - 1));
        }
    }

    /// A cancelled run of the largest size stops at its first check.
    #[test]
    fn cancel_stops_a_long_orbit() {
        let control = crate::analysis::Control::new();
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
