"""Cost of the image-datastore pipeline of "Train Network Using Custom Training Loop" (prints figures, asserts nothing).

Rows (per image unless said otherwise; CPU time of this process with ``time.process_time``, so the figures
hold on a busy machine, and wall time next to it):

* ``digitDatasetPath, first call``  writing the 5,000 PNG files of the DigitDataset folder (a fresh temporary
                                     cache folder, ``DLTEACH_DATA_DIR``);
* ``imageDatastore(...)``            listing the 5,000 files with IncludeSubfolders and foldername labels;
* ``read(imds)``                     one image through Pillow (MATLAB ``imread``);
* ``augmented read, no augmentation`` reads of an augmentedImageDatastore (128 images per read);
* ``augmented read, +-5 px shifts``  the same with the page's imageDataAugmenter (random X/Y translation);
* ``augmented read, all transforms`` rotation, scale, shear, reflection and translation;
* ``minibatchqueue epoch``           one epoch of 4,500 training images through the page's preprocessMiniBatch
                                     (cat(4, ...) + onehotencode), no training: the data side of an epoch.

    .venv/bin/python benchmarks/bench_image_datastore.py [--repeats 3]
"""
import argparse
import os
import shutil
import tempfile
import time


def _timed(fn, repeats):
    best_cpu, best_wall = float("inf"), float("inf")
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        best_cpu = min(best_cpu, time.process_time() - c)
        best_wall = min(best_wall, time.perf_counter() - w)
    return best_cpu, best_wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    cache = tempfile.mkdtemp(prefix="bench_images_")
    os.environ["DLTEACH_DATA_DIR"] = cache
    import numpy as np

    from dlteach import (
        augmentedImageDatastore,
        cat,
        categories,
        digitDatasetPath,
        hasdata,
        imageDataAugmenter,
        imageDatastore,
        minibatchqueue,
        onehotencode,
        read,
        reset,
        shuffle,
        splitEachLabel,
    )
    from dlteach import next as mbq_next

    rows = []
    try:
        c, w = time.process_time(), time.perf_counter()
        folder = digitDatasetPath()
        rows.append(("digitDatasetPath, first call (5,000 PNG)", time.process_time() - c, time.perf_counter() - w, 1))
        c, w = time.process_time(), time.perf_counter()
        for _ in range(100):
            digitDatasetPath()
        rows.append(("digitDatasetPath, later calls", (time.process_time() - c) / 100, (time.perf_counter() - w) / 100, 1))

        holder = {}
        cpu, wall = _timed(lambda: holder.update(imds=imageDatastore(folder, IncludeSubfolders=True,
                                                                     LabelSource="foldernames")), args.repeats)
        rows.append(("imageDatastore(...) on 5,000 files", cpu, wall, 1))
        imds = holder["imds"]

        def read_all():
            reset(imds)
            for _ in range(1000):
                read(imds)
        cpu, wall = _timed(read_all, args.repeats)
        rows.append(("read(imds), per image", cpu, wall, 1000))

        np.random.seed(0)
        imdsTrain, _ = splitEachLabel(imds, 0.9, "randomized")
        augs = {"augmented read, no augmentation": None,
                "augmented read, +-5 px shifts": imageDataAugmenter(RandXTranslation=[-5, 5], RandYTranslation=[-5, 5]),
                "augmented read, all transforms": imageDataAugmenter(
                    RandRotation=[-10, 10], RandScale=[0.9, 1.1], RandXShear=[-5, 5], RandXReflection=True,
                    RandXTranslation=[-3, 3], RandYTranslation=[-3, 3])}
        for name, aug in augs.items():
            au = augmentedImageDatastore([28, 28], imdsTrain, DataAugmentation=aug)

            def read_epoch(au=au):
                reset(au)
                while hasdata(au):
                    read(au)
            cpu, wall = _timed(read_epoch, args.repeats)
            rows.append((name + ", per image", cpu, wall, au.NumObservations))

        classes = categories(imdsTrain.Labels)

        def preprocessMiniBatch(dataX, dataT):
            return cat(4, *dataX), onehotencode(cat(2, *dataT), 1, ClassNames=classes)
        au = augmentedImageDatastore([28, 28], imdsTrain, DataAugmentation=augs["augmented read, +-5 px shifts"])
        mbq = minibatchqueue(au, MiniBatchSize=128, MiniBatchFcn=preprocessMiniBatch, MiniBatchFormat=["SSCB", ""])

        def epoch():
            shuffle(mbq)
            while hasdata(mbq):
                mbq_next(mbq)
        cpu, wall = _timed(epoch, args.repeats)
        rows.append(("minibatchqueue epoch (4,500 images, 36 mini-batches)", cpu, wall, 1))
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    print(f"{'what':58s} {'CPU':>12s} {'wall':>12s}")
    for name, cpu, wall, n in rows:
        unit = "us" if n > 1 or cpu < 0.01 else "s"
        scale = 1e6 if unit == "us" else 1.0
        print(f"{name:58s} {cpu / n * scale:10.1f} {unit} {wall / n * scale:10.1f} {unit}")
    print(f"(best of {args.repeats}; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
