"""The chain rule by hand and by the engine: J = 3(a·b + c) (the seeds' walkthrough).

    python examples/backprop.py

Same as `chainrule explain "3*(a*b+c)" a=2 b=3 c=4` and `chainrule demo backprop`.
"""
import chainrule as cr

a = cr.tensor(2.0, requires_grad=True)
b = cr.tensor(3.0, requires_grad=True)
c = cr.tensor(4.0, requires_grad=True)
u = a * b          # u = 6
v = u + c          # v = 10
J = 3 * v          # J = 30

# Every backward step: local derivative, chain-rule product, accumulated gradient.
grads = cr.explain(J)
print(grads)       # {'a': 9.0, 'b': 6.0, 'c': 3.0}: dJ/da = 3b, dJ/db = 3a, dJ/dc = 3

# The usual way gives the same numbers from the same graph.
J.backward()
print(f"a.grad = {a.grad.item():g}, b.grad = {b.grad.item():g}, c.grad = {c.grad.item():g}")
