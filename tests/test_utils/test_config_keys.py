from pointhmr_mm.utils.config_keys import walk_dotted

TREE = dict(a=dict(b=[dict(c=1), dict(d=dict(e=2))]), f=3)


def test_walks_dicts_and_list_indices():
    assert list(walk_dotted(TREE, 'a.b.1.d.e')) == [
        ('', TREE), ('a', TREE['a']), ('a.b', TREE['a']['b']),
        ('a.b.1', TREE['a']['b'][1]), ('a.b.1.d', dict(e=2)),
        ('a.b.1.d.e', 2)]


def test_stops_where_the_key_leaves_the_tree():
    assert [p for p, _ in walk_dotted(TREE, 'a.x.y')] == ['', 'a']
    assert [p for p, _ in walk_dotted(TREE, 'a.b.5')] == ['', 'a', 'a.b']
    assert [p for p, _ in walk_dotted(TREE, 'f.g')] == ['', 'f']
    assert [p for p, _ in walk_dotted(TREE, 'a.b.x')] == ['', 'a', 'a.b']
