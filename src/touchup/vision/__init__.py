"""Pure photo analysis: decode and validate, quality, landmarks, alignment, regions,
wrinkle index. No Django (import-linter enforces it). docs/photos.md explains the method
and its measured accuracy and speed.

Public API:

- decode:    decode_image(data, *, max_bytes, max_pixels, reduce=1) -> DecodedImage,
             clean_jpeg(img, quality=92) -> bytes, ImageRejected(reason), probe(data),
             decode_bgr(data, ...), exif_thumbnail(data)
- analyze:   analyze(rgb, baseline=None) -> dict, analyze_bytes(data, baseline=None) -> dict,
             prepare(rgb) / prepare_bytes(data) -> Prepared (reusable baseline)
- landmarks: LandmarkDetector (protocol), Landmarks, MediaPipeFaceMesh, default_detector()
- align:     canonical_transform, to_baseline, refine_to_baseline, similarity, warp
- wrinkles:  wrinkle_index, grade, GRADE_CUTS
- synthetic: paint_lines, reshoot, with_exif_preview (validation only)

The modules are imported one by one (`from touchup.vision.analyze import analyze`) so that
importing the package does not load OpenCV or MediaPipe.
"""
