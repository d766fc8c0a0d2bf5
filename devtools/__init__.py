"""Development tools outside the runtime package: the stand-in Amazon and the demo seeding (`make demo`).

Nothing in portal/ imports this package."""
