//! Model files, directories, archives and firmware images: being written.
