"""How models run: device and precision choice, and keeping model libraries offline when asked."""
