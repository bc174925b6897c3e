//! The filter language (STUB: being written by a helper).
