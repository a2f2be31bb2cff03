"""Pure photo analysis: decode and validate, quality, landmarks, alignment, regions,
wrinkle index. No Django."""
