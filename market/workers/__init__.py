"""Several server processes (`market serve --workers N`): starting and restarting them
(`supervisor`), each instrument's home worker (`homes`), and the hand-over of an order to its
home worker (`peers` carries the typed `messages`, which `codec` turns into bytes and back).

Process plumbing only: no HTTP framework, no database, no bounded context is imported here;
the trading context hands its orders over through these interfaces.
"""
