"""Reading a preprocess step for the code a service could run on raw rows."""

from __future__ import annotations

from nb2prod.analyse.row_wise import ROW_FUNCTION, replace_run, row_candidate

WINE = """X = df.drop(columns=["target"])
X["flavanoid_share"] = X["flavanoids"] / X["total_phenols"]
y = df["target"]
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)"""


def test_statements_changing_one_table_before_the_split_are_the_candidate() -> None:
    found = row_candidate(WINE, {"train_test_split"}, set(), set())
    assert found is not None
    assert (found.function, found.table, found.lines) == (ROW_FUNCTION, "X", (2, 2))
    body, statements = replace_run(WINE, found)
    assert statements == 'X["flavanoid_share"] = X["flavanoids"] / X["total_phenols"]'
    assert body.split("\n")[:3] == [
        'X = df.drop(columns=["target"])',
        f"X = {ROW_FUNCTION}(X)",
        'y = df["target"]',
    ]


def test_the_longest_run_wins_and_in_place_calls_count() -> None:
    body = (
        "df.drop(columns=['id'], inplace=True)\n"
        "df['a'] = df['a'].astype(float)\n"
        "df['b2'] = np.log1p(df['b'])\n"
        "y = df.pop('target')\n"
        "df['c'] = df['c'] * 2"
    )
    found = row_candidate(body, {"np"}, set(), set())
    assert found is not None and found.lines == (1, 3) and found.table == "df"


def test_a_notebook_function_on_one_table_is_served_as_is() -> None:
    body = 'X = add_ratio_features(df.drop(columns=["target"]))\ny = df["target"]'
    found = row_candidate(body, {"add_ratio_features"}, {"add_ratio_features"}, set())
    assert found is not None
    assert (found.function, found.table, found.lines) == ("add_ratio_features", "X", None)


def test_values_read_besides_the_table_become_arguments() -> None:
    body = "X['z'] = (X['a'] - mean) / std\nX[cols] = encoder.transform(X[cols])"
    found = row_candidate(body, set(), set(), set())
    assert found is not None and found.arguments == (
        "mean",
        "std",
        "encoder",
        "cols",
    )  # evaluation order
    assert replace_run(body, found)[0] == "X = preprocess_rows(X, mean, std, encoder, cols)"


def test_no_candidate_after_the_split_in_loops_or_from_another_table() -> None:
    after_split = "X_train, X_test = split(X)\nX_test = X_test / 16.0"
    assert row_candidate(after_split, {"split"}, set(), set()) is None
    another = "X = df[cols]"  # starts from another table: nothing changes X
    assert row_candidate(another, set(), set(), set()) is None
    loop = "for c in cols:\n    X[c] = X[c].astype(float)"
    assert row_candidate(loop, set(), set(), set()) is None
    keywords = "X = add_features(df, eps=1e-9)"  # other arguments: not served as is
    assert row_candidate(keywords, {"add_features"}, {"add_features"}, set()) is None


def test_the_new_function_does_not_shadow_a_name() -> None:
    found = row_candidate(WINE, {"train_test_split"}, set(), {ROW_FUNCTION})
    assert found is not None and found.function == ROW_FUNCTION + "_"


def test_fitting_an_object_is_not_changing_a_table() -> None:
    body = "sc = StandardScaler()\nsc.fit(X_train)\nX_train_std = sc.transform(X_train)"
    assert row_candidate(body, {"StandardScaler"}, set(), set()) is None
