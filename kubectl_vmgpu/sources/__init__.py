"""Where an inventory comes from: a snapshot on disk or a live cluster."""
