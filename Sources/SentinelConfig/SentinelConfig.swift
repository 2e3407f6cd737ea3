public import KDL
