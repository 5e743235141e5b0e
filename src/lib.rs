//! aqueduct
