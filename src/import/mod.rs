//! Importing the data Japanese cities hold into a layer.
//!
//! One reader per source format turns a file into features in a known CRS; the import then
//! maps their attributes onto the layer and writes them in one transaction. So far:
//! [`mojxml`], the Ministry of Justice's cadastral map XML, by a streaming parser of our own.

pub mod mojxml;
