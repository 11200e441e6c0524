//! HTTP handlers, one module per upstream OpenAPI file. The workflows API is internal only.

pub mod internal_v1;
