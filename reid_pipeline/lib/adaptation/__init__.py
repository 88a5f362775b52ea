"""Site adaptation: a projection head trained on the site's own tracklets, and per-camera centering."""
