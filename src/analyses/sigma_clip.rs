//! Iterative κ·σ clipping of a spectrum's flux (astropy's `sigma_clip` with the mean as
//! centre): points further than `k` standard deviations from the mean of the points kept
//! so far are masked, until nothing changes or `maxiters` rounds have run.
//!
//! Variants: naive copies the kept points into a new vector every round and sums it (the
//! textbook loop); vectorized keeps one mask and sums the unmasked points in place;
//! parallel re-masks over rayon (the sums stay in index order, so all three agree bit
//! for bit). The mask (int32, exact) and
//! the final mean/σ (relative 1e-12) must agree.

use crate::data::{generate, Dataset, Kind, Spectrum};
use crate::engine::{
    self, Analysis, CostModel, Ctx, Output, ParamSpec, Params, Section, Tolerance, Variant,
};
use crate::{stage, Error, Result};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

pub struct SigmaClip;

/// Artifact: 1 where a point was clipped, 0 where it was kept.
pub const MASK: &str = "mask";

impl Analysis for SigmaClip {
    fn id(&self) -> &'static str {
        "sigma-clip"
    }
    fn title(&self) -> &'static str {
        "Sigma clipping (iterative κσ mask)"
    }
    fn section(&self) -> Section {
        Section::Vectorization
    }
    fn help(&self) -> &'static str {
        "Iteratively mask flux points beyond k·σ of the mean of the points kept, as astropy's sigma_clip does; copying the kept points every round is what the faster variants avoid."
    }
    fn input_kind(&self) -> Kind {
        Kind::Spectrum
    }
    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::float("k", "clip at k standard deviations", 3.0, 0.1, 100.0),
            ParamSpec::int("maxiters", "most clipping rounds", 5, 1, 1000),
        ]
    }
    fn size_unit(&self) -> &'static str {
        "pixels"
    }
    fn default_size(&self) -> usize {
        1_000_000
    }
    fn quick_size(&self) -> usize {
        20_000
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Dataset> {
        let p = generate::SpectrumParams {
            n: size,
            ..Default::default()
        };
        Ok(Dataset::Spectrum(generate::spectrum(&p, seed)))
    }
    fn validate(&self, input: &Dataset, _params: &Params) -> Result<()> {
        self.flux(input).map(drop)
    }
    /// Measured once on the development machine at 10⁶ pixels (release build).
    fn cost(&self) -> CostModel {
        CostModel {
            time: [(1.0, 40e-3), (1.0, 6e-3), (1.0, 4e-3)],
            mem: (1.0, 16.0),
            w_ref: 1e6,
        }
    }
    fn run(&self, variant: Variant, input: &Dataset, params: &Params, ctx: &Ctx) -> Result<Output> {
        let flux = self.flux(input)?;
        let k = params.f64("k")?;
        let maxiters = params.usize("maxiters")?;
        let mut mask = vec![false; flux.len()];
        let mut rounds = 0;
        let mut stats = (f64::NAN, f64::NAN);
        while rounds < maxiters {
            ctx.check()?;
            stats = stage!(ctx, "stats", kept_mean_std(flux, &mask, variant));
            let changed = stage!(ctx, "mask", remask(flux, &mut mask, stats, k, variant));
            rounds += 1;
            if changed == 0 {
                break;
            }
        }
        let clipped = mask.iter().filter(|m| **m).count();
        let mask_i32: Vec<i32> = mask.iter().map(|&m| i32::from(m)).collect();
        Ok(Output::new()
            .sum("mean", stats.0)
            .sum("std", stats.1)
            .sum("n_clipped", clipped)
            .sum("rounds", rounds)
            .i32(MASK, ArrayD::from_shape_vec(IxDyn(&[flux.len()]), mask_i32).map_err(|e| Error::input(e.to_string()))?)
            .f64(
                "center",
                ArrayD::from_shape_vec(IxDyn(&[2]), vec![stats.0, stats.1])
                    .map_err(|e| Error::input(e.to_string()))?,
                Tolerance::Rel(1e-12),
            ))
    }
}

impl SigmaClip {
    /// The flux, once: a spectrum with at least two points, all finite.
    fn flux<'a>(&self, input: &'a Dataset) -> Result<&'a [f64]> {
        let s: &Spectrum = engine::input::input(self, input)?;
        let flux = s
            .flux
            .as_slice()
            .ok_or_else(|| Error::input("sigma-clip: the flux is not contiguous"))?;
        if flux.len() < 2 {
            return Err(Error::input("sigma-clip needs at least 2 flux points"));
        }
        if let Some(i) = flux.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(format!("sigma-clip: flux point {i} is not finite")));
        }
        Ok(flux)
    }
}

/// Mean and population σ of the unmasked points, summed in index order in every variant
/// (so the three agree to the last bit): naive copies the kept points first, the others
/// skip the masked ones in place.
fn kept_mean_std(x: &[f64], mask: &[bool], variant: Variant) -> (f64, f64) {
    if variant == Variant::Naive {
        let kept: Vec<f64> = x
            .iter()
            .zip(mask)
            .filter(|(_, m)| !**m)
            .map(|(v, _)| *v)
            .collect();
        let n = kept.len() as f64;
        let mean = kept.iter().sum::<f64>() / n;
        let ss: f64 = kept.iter().map(|v| (v - mean).powi(2)).sum();
        return (mean, (ss / n).sqrt());
    }
    let kept = || x.iter().zip(mask).filter(|(_, m)| !**m).map(|(v, _)| *v);
    let n = kept().count() as f64;
    let mean = kept().sum::<f64>() / n;
    let ss: f64 = kept().map(|v| (v - mean).powi(2)).sum();
    (mean, (ss / n).sqrt())
}

/// Mask every point beyond k·σ of the mean; returns how many were newly masked.
fn remask(x: &[f64], mask: &mut [bool], (mean, std): (f64, f64), k: f64, variant: Variant) -> usize {
    let limit = k * std;
    let one = |(v, m): (&f64, &mut bool)| -> usize {
        let out = (v - mean).abs() > limit;
        let new = usize::from(out && !*m);
        *m |= out;
        new
    };
    match variant {
        Variant::Parallel => x.par_iter().zip(mask.par_iter_mut()).map(one).sum(),
        _ => x.iter().zip(mask.iter_mut()).map(one).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outlier_is_clipped_and_the_variants_agree() {
        let mut flux: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 * 0.01).collect();
        flux[500] = 1e6;
        let wl: Vec<f64> = (0..1000).map(f64::from).collect();
        let d = Dataset::Spectrum(Spectrum {
            wavelength: wl.into(),
            flux: flux.into(),
            error: None,
        });
        let p = Params::defaults(&SigmaClip.params());
        let ctx = Ctx::detached(2);
        let outs: Vec<Output> = engine::ALL_VARIANTS
            .into_iter()
            .map(|v| SigmaClip.run(v, &d, &p, &ctx).expect("run"))
            .collect();
        assert_eq!(outs[0].summary["n_clipped"], 1);
        for o in &outs[1..] {
            outs[0].agrees_with(o).expect("variants agree");
        }
    }
}
