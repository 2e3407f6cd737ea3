print("sentinel-stack")
