"""What a data set is, in words: where it is read from, how many images, their channels and size, the classes by
name, and the path training takes to them. Torch-free and said one way for `prunetui data`, a run's log and the
app's form (`DataSet.facts` gives them for a loaded data set).
"""

from __future__ import annotations

from dataclasses import dataclass

SHOWN_CLASSES = 10  # more are counted, not listed: 100 names fill a screen
PATHS = {
    "memory": "held in memory (whole tensors, sliced per batch)",
    "stream": "streamed to the device in batches by DataLoader workers",
}


@dataclass(frozen=True, slots=True)
class DataFacts:
    spec: str
    source: str  # where the images are read from
    train: int  # training images, the validation split included
    test: int
    channels: int
    size: int  # the images are size x size
    class_names: tuple[str, ...]
    validation: int = 0  # of the training images, held out to choose by
    path: str = "memory"  # how training reads them (`DataSet.path`)
    normalisation: str = ""  # 'mean 0.286; std 0.353': per channel, what the images are standardised by

    @property
    def images_text(self) -> str:
        """'45,000 training, 5,000 held out for validation and 10,000 test images': those trained on, as the run's
        first line counts them."""
        held_out = f", {self.validation:,} held out for validation" if self.validation else ""
        return f"{self.train - self.validation:,} training{held_out} and {self.test:,} test images"

    @property
    def shape_text(self) -> str:
        """Channels, height and width, joined by multiplication signs as the log writes sizes."""
        return f"{self.channels}×{self.size}×{self.size}"

    def classes_text(self, shown: int = SHOWN_CLASSES) -> str:
        """'3 classes: cat, dog, eel'; past `shown` names, the rest counted ('… and 90 more')."""
        names = list(self.class_names[:shown])
        if len(self.class_names) > shown:
            names.append(f"… and {len(self.class_names) - shown} more")
        return f"{len(self.class_names)} classes: {', '.join(names)}"

    @property
    def path_text(self) -> str:
        return PATHS.get(self.path, self.path)

    def lines(self) -> list[str]:
        """The run's log at its start: where from and how many, what an image is and the path taken, then how it is
        standardised (what a user gives the trained model must be too)."""
        standardised = [f"standardised per channel by {self.normalisation} (pixels 0-1)"] if self.normalisation else []
        return [
            f"{self.spec}: {self.images_text} from {self.source}",
            f"{self.shape_text} images, {self.classes_text()}; {self.path_text}",
            *standardised,
        ]

    def line(self, shown: int = 4) -> str:
        """One line for the form's note under the data set field."""
        return (
            f"{self.train + self.test:,} images ({self.train:,} train, {self.test:,} test), {self.shape_text}, "
            f"{self.classes_text(shown)}; {'in memory' if self.path == 'memory' else 'streamed'}; from {self.source}"
        )
