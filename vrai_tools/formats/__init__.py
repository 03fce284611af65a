"""External formats: one module per format, pure record converters plus thin load/save.

``market1501`` (torchreid / fast-reid folders), ``vrai_release`` (the official VRAI
layout and pickles), ``coco`` (frames with vehicle boxes), ``yolo`` (part boxes on
crops). :mod:`.exporting` and :mod:`.importing` do the file work around them;
:mod:`.safe_pickle` loads pickles without running their code.
"""
EXPORT_FORMATS: tuple[str, ...] = ("market1501", "vrai", "coco", "yolo-parts")
IMPORT_FORMATS: tuple[str, ...] = ("vrai", "market1501")
