pub mod conv_paths;
