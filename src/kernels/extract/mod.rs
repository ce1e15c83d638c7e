//! A SExtractor-like source extractor: background meshes, detection, deblending, CLEAN and
//! photometry, in the order a frame goes through them.

pub mod background;
pub mod clean;
pub mod deblend;
pub mod detect;
pub mod lutz;
pub mod mesh;
pub mod photometry;
