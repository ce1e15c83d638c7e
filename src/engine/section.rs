//! The chapter section an analysis belongs to: the app groups analyses by it, and the CLI's
//! `list` and the JSON records print its text.

/// A section of chapter 7. The text is what the CLI and the app have always shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    /// "7.1 Profiling"
    Profiling,
    /// "7.2 Vectorization"
    Vectorization,
    /// "7.3 Numba"
    Numba,
    /// "7.4 Parallel processing"
    ParallelProcessing,
    /// "7.5 Memory"
    Memory,
    /// "Exercise 7.1"
    Exercise1,
    /// "Exercise 7.2"
    Exercise2,
    /// "Exercise 7.3"
    Exercise3,
}

impl Section {
    /// The heading text, e.g. "7.1 Profiling".
    pub fn name(self) -> &'static str {
        match self {
            Section::Profiling => "7.1 Profiling",
            Section::Vectorization => "7.2 Vectorization",
            Section::Numba => "7.3 Numba",
            Section::ParallelProcessing => "7.4 Parallel processing",
            Section::Memory => "7.5 Memory",
            Section::Exercise1 => "Exercise 7.1",
            Section::Exercise2 => "Exercise 7.2",
            Section::Exercise3 => "Exercise 7.3",
        }
    }
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad` so width and alignment (the CLI's `list` columns) apply to the text.
        f.pad(self.name())
    }
}

/// A section reads as its heading text wherever text is wanted (`a.section().is_empty()`,
/// `ui.label(&*s)`).
impl std::ops::Deref for Section {
    type Target = str;
    fn deref(&self) -> &str {
        self.name()
    }
}

/// Serialized as its text, so JSON records keep what they always had.
impl serde::Serialize for Section {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
