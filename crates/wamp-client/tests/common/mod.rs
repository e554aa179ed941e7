pub mod fake_router;
