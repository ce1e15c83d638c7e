//! Typed inputs: an analysis takes the one `Dataset` variant it needs out of its input
//! once, at the top of `run()` (and in `validate()`), with [`input`], instead of writing
//! its own `match` with the wrong-input error.

use super::{wrong_input, Analysis};
use crate::data::Table;
use crate::data::{Catalog, Dataset, Frame, LightCurve, Mapped, Points, Spectrum, SpectrumBatch};
use crate::Result;

/// A typed view of one `Dataset` variant.
pub trait Input<'a>: Sized {
    /// The view, when `d` is of this variant.
    fn view(d: &'a Dataset) -> Option<Self>;
}

/// The typed input `a` takes, or the wrong-input error naming both kinds.
pub fn input<'a, T: Input<'a>>(a: &dyn Analysis, d: &'a Dataset) -> Result<T> {
    T::view(d).ok_or_else(|| wrong_input(a, d))
}

macro_rules! views {
    ($($t:ty => $p:pat => $v:expr;)*) => {
        $(impl<'a> Input<'a> for $t {
            fn view(d: &'a Dataset) -> Option<Self> {
                match d {
                    $p => Some($v),
                    _ => None,
                }
            }
        })*
    };
}

views! {
    &'a Spectrum => Dataset::Spectrum(s) => s;
    &'a LightCurve => Dataset::LightCurve(l) => l;
    &'a [LightCurve] => Dataset::LightCurveBatch(v) => v.as_slice();
    &'a Frame => Dataset::Frame(f) => f;
    &'a [Frame] => Dataset::FrameBatch(v) => v.as_slice();
    &'a Catalog => Dataset::Catalog(c) => c;
    (&'a Catalog, &'a Catalog) => Dataset::CatalogPair(a, b) => (a, b);
    &'a Points => Dataset::Points(p) => p;
    &'a SpectrumBatch => Dataset::SpectrumBatch(b) => b;
    &'a Table => Dataset::Table(t) => t;
    &'a Mapped => Dataset::Mapped(m) => m;
}
