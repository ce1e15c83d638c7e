//! The kind of a dataset, as a value: what an analysis takes (`Analysis::input_kind`), what
//! a loader produced (`Dataset::kind`) and what `data::adapt` converts to. Its name is the
//! text the CLI, the JSON records and error messages have always shown.

use serde::Serialize;

/// Every input kind an analysis may take, one per `Dataset` variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// No input: the analysis generates its own samples.
    None,
    Spectrum,
    LightCurve,
    LightCurveBatch,
    Frame,
    FrameBatch,
    Catalog,
    CatalogPair,
    Points,
    SpectrumBatch,
    Table,
    /// A large array read through a memory map.
    Mapped,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::None,
        Kind::Spectrum,
        Kind::LightCurve,
        Kind::LightCurveBatch,
        Kind::Frame,
        Kind::FrameBatch,
        Kind::Catalog,
        Kind::CatalogPair,
        Kind::Points,
        Kind::SpectrumBatch,
        Kind::Table,
        Kind::Mapped,
    ];

    /// The name shown by the CLI, the app and the JSON records ("light-curve", ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Spectrum => "spectrum",
            Kind::LightCurve => "light-curve",
            Kind::LightCurveBatch => "light-curve-batch",
            Kind::Frame => "frame",
            Kind::FrameBatch => "frame-batch",
            Kind::Catalog => "catalog",
            Kind::CatalogPair => "catalog-pair",
            Kind::Points => "points",
            Kind::SpectrumBatch => "spectrum-batch",
            Kind::Table => "table",
            Kind::Mapped => "memory-mapped array",
        }
    }

    /// The kind with this name, if there is one.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad` so width and alignment (the CLI's `list` columns) apply to the name.
        f.pad(self.name())
    }
}

/// Serialized as its name, so JSON records keep the text they always had.
impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// For callers (tests, scripts) that name a kind by its text.
impl TryFrom<&str> for Kind {
    type Error = String;
    fn try_from(name: &str) -> Result<Kind, String> {
        Kind::parse(name).ok_or_else(|| format!("unknown input kind '{name}'"))
    }
}

impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
            assert_eq!(k, k.name());
        }
        assert_eq!(Kind::Mapped.to_string(), "memory-mapped array");
        assert_eq!(format!("{:<8}|", Kind::Frame), "frame   |");
        assert_eq!(Kind::parse("spectra"), None);
    }
}
