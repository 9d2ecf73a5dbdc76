//! The live sensor: capture thread, signals, reload, stats, systemd notification, privileges.
