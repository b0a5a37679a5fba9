"""``python main.py explain``: a PNG with the heat map and a colour bar; bad input exits 2."""
import numpy as np
import pytest
from PIL import Image

from cli.commands import main
from cnn_core.data import load_sample


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    """A bundled validation digit saved as an ordinary PNG file, and its label."""
    split = load_sample()[1]
    path = tmp_path_factory.mktemp("images") / "digit.png"
    Image.fromarray(split.images[3]).save(path)
    return path, int(split.labels[3])


def run(args):
    """Exit status of ``main.py explain ARGS``; argparse's own errors exit via SystemExit."""
    try:
        return main(["explain", *map(str, args)])
    except SystemExit as stop:
        return stop.code


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("method", ["gradcam", "hirescam", "occlusion"])
def test_explain_writes_a_png_with_heat_over_the_strokes(method, digit_png, tmp_path, capsys):
    image, label = digit_png
    out = tmp_path / "heat.png"
    assert run(["--image", image, "--method", method, "--out", out]) == 0
    printed = capsys.readouterr().out
    assert f"prediction: {label}" in printed and "deletion AUC: " in printed
    with Image.open(out) as picture:
        assert picture.format == "PNG" and picture.mode == "RGB"
        assert picture.width >= 300 and picture.height >= 300
        pixels = np.asarray(picture).astype(int)
    warm = (pixels[..., 0] - pixels[..., 2] > 60).sum()
    assert warm > 500, "no heat colours in the picture"


def test_contrast_and_layer_options(digit_png, tmp_path, capsys):
    image, label = digit_png
    out = tmp_path / "why.png"
    other = (label + 1) % 10
    code = run(["--image", image, "--layer", "conv3", "--target", label, "--contrast", other,
                "--out", out])
    assert code == 0 and out.is_file()
    assert f"gradcam at conv3, evidence for {label} against {other}" in capsys.readouterr().out


def test_an_empty_map_gets_no_auc_but_says_why(tmp_path, capsys):
    """Grad-CAM at conv3 is empty for most digits; the first such digit, found here."""
    from cnn_core.explain import Explainer
    from cnn_core.model_files import load_model
    from cnn_core.paths import SHIPPED_MODEL
    split = load_sample()[1]
    explainer = Explainer(load_model(SHIPPED_MODEL)[0])
    empty = next(i for i in range(len(split.labels))
                 if not explainer.explain(split.as_float()[i, 0], "gradcam", "conv3").heatmap.any())
    image = tmp_path / "digit.png"
    Image.fromarray(split.images[empty]).save(image)
    assert run(["--image", image, "--layer", "conv3", "--out", tmp_path / "a.png"]) == 0
    printed = capsys.readouterr().out
    assert "deletion AUC: none, the map is empty: no region at conv3 raises the score" in printed
    assert run(["--image", image, "--layer", "conv4", "--out", tmp_path / "b.png"]) == 0
    assert "deletion AUC: 0." in capsys.readouterr().out


@pytest.mark.parametrize("options", [
    ["--image", "{missing}"],
    ["--image", "{text}"],
    ["--image", "{blank}"],
    ["--image", "{digit}", "--layer", "conv9"],
    ["--image", "{digit}", "--layer", "fc1"],
    ["--image", "{digit}", "--target", "10"],
    ["--image", "{digit}", "--contrast", "-1"],
    ["--image", "{digit}", "--target", "3", "--contrast", "3"],
    ["--image", "{digit}", "--method", "saliency", "--layer", "conv2"],
    ["--image", "{digit}", "--model", "{missing}"],
    ["--image", "{digit}", "--method", "lime"],
    ["--image", "{digit}", "--target", "seven"],
])
def test_bad_input_exits_2_with_one_line(options, digit_png, tmp_path, capsys):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    blank = tmp_path / "blank.png"
    Image.new("L", (40, 40), 0).save(blank)
    names = {"missing": tmp_path / "nope.png", "text": text, "blank": blank, "digit": digit_png[0]}
    args = [o.format(**names) for o in options]
    code = run([*args, "--out", tmp_path / "out.png"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert not (tmp_path / "out.png").exists()


def test_an_out_folder_that_does_not_exist_is_bad_input(digit_png, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "folder.png"
    assert run(["--image", digit_png[0], "--out", out]) == 2
    assert "does not exist" in one_error_line(capsys)
