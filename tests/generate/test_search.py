from polyhpc.data import load_htpmd_train
from polyhpc.generate.dataset import ExtraUnits, TrainingSetConfig
from polyhpc.generate.search import SearchConfig, run_search
from polyhpc.generate.train import GeneratorConfig, TrainConfig


def test_grid_search_scores_every_preset_iteration_and_temperature(tmp_path):
    frame = load_htpmd_train().iloc[:300]
    base = GeneratorConfig(data=TrainingSetConfig(extra=(ExtraUnits("*CCO*", 50, 1),)),
                           train=TrainConfig(eval_interval=10))
    search = SearchConfig(presets=("gpt-nano",), temperatures=(0.5, 1.0), max_iters=20,
                          interval=10, n_samples=16)
    table = run_search(frame, base, search, tmp_path)
    assert len(table) == 4
    assert sorted(zip(table["iterations"], table["temperature"], strict=True)) == [
        (10, 0.5), (10, 1.0), (20, 0.5), (20, 1.0)]
    assert ((table["score"] >= 0) & (table["score"] <= 1)).all()
    assert (tmp_path / "search.csv").is_file()
    # an interrupted search resumes: the finished preset is not retrained
    stamp = (tmp_path / "gpt-nano" / "model-20.pt").stat().st_mtime_ns
    run_search(frame, base, search, tmp_path)
    assert (tmp_path / "gpt-nano" / "model-20.pt").stat().st_mtime_ns == stamp
