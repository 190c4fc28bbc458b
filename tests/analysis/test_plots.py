"""Figures say what they show: labelled colour bar, plain tick numbers, provenance in titles."""

import dataclasses
import re

import pytest

from polyhpc.analysis.pipeline import analyze_path
from polyhpc.analysis.plots import msd_figure, plot_msd, plot_population, population_figure
from polyhpc.analysis.results import Provenance


@pytest.fixture(scope="module")
def reference_result(reference_trajectory):
    return analyze_path(reference_trajectory)


@pytest.fixture(scope="module")
def smoke_result(reference_result):
    return dataclasses.replace(reference_result, provenance=Provenance(
        mol_smiles="CC(CCNCC(C)OC(=O)[Au])CCO[Cu]", protocol="smoke",
        deviations=("durations scaled by 2e-4",), force_field="PCFF (pcff.frc, public)",
        force_field_file={"name": "pcff.frc", "sha256": "ab12cd34" + "0" * 56}))


def _labels(fig):
    fig.canvas.draw()
    texts = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            texts += [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]
    return texts


def test_population_colour_bar_is_labelled(reference_result):
    fig = population_figure(reference_result)
    colorbar_axes = fig.axes[1]
    assert colorbar_axes.get_ylabel() == "mean number of clusters per frame"


@pytest.mark.parametrize("figure", [msd_figure, population_figure])
def test_tick_labels_are_plain_numbers_not_scientific_powers(reference_result, figure):
    labels = _labels(figure(reference_result))
    assert labels, "no tick labels drawn"
    for text in labels:
        assert "times" not in text and "^" not in text and "×" not in text, text
        assert re.fullmatch(r"-?\d+(\.\d+)?", text.replace("−", "-")), text
    if figure is msd_figure:
        # the reference MSD spans 0.15-2.3 A^2 over 2-12 ps: labelled in between too
        assert {"2", "5", "10"} <= set(labels) and {"0.2", "0.5", "1", "2"} <= set(labels)


def test_titles_name_the_unit_with_star_ends_the_protocol_and_the_force_field(
        reference_result):
    # meta.json spells the ends [Au]/[Cu] (HTP-MD); a person reads them as * (issue 20)
    assert reference_result.provenance.mol_smiles == "CC(CCNCC(C)OC(=O)[Au])CCO[Cu]"
    title = msd_figure(reference_result).axes[0].get_title()
    assert title.splitlines()[1:] == [
        "CC(CCNCC(C)OC(=O)*)CCO*, protocol not recorded in meta.json", "PCFF+"]
    assert "σ = 4.798 mS/cm" in title


@pytest.mark.parametrize("figure", [msd_figure, population_figure])
def test_every_text_of_a_figure_fits_inside_it(smoke_result, figure):
    fig = figure(smoke_result)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    texts = [*fig.texts, *(t for ax in fig.axes for t in (ax.title, ax.xaxis.label,
                                                          ax.yaxis.label))]
    for text in texts:
        if text.get_text():
            extent = text.get_window_extent(renderer)
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1, text.get_text()
            assert box.y0 <= extent.y0 and extent.y1 <= box.y1, text.get_text()


@pytest.mark.parametrize("figure", [msd_figure, population_figure])
def test_a_deviating_protocol_is_flagged_on_the_figure(smoke_result, reference_result, figure):
    fig = figure(smoke_result)
    title = fig.axes[0].get_title()
    assert title.splitlines()[1:] == [
        "CC(CCNCC(C)OC(=O)*)CCO*, protocol smoke (DEVIATES from the paper)",
        "PCFF (pcff.frc, public) sha256 ab12cd34"]
    warnings = [t.get_text() for t in fig.texts]
    assert warnings == ["protocol 'smoke' deviates from the paper: not comparable with HTP-MD "
                        "values"]
    assert figure(reference_result).texts == []


def test_plots_are_written_as_png(tmp_path, smoke_result):
    for write, name in [(plot_msd, "m.png"), (plot_population, "p.png")]:
        path = write(smoke_result, tmp_path / name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
