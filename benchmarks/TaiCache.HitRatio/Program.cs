Console.WriteLine("usage: TaiCache.HitRatio <trace> <size> [size...]");
