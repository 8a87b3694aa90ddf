//! The division RPCs' requests as commands (to come with the RPCs).
